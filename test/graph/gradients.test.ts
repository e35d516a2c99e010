/**
 * Every differentiable op, through the whole pipeline: graph -> autodiff -> fusion -> memory plan
 * -> native plan -> executor. Each case builds a small graph whose float operands are parameters,
 * reduces the op's output to a scalar with a random weighting (L = sum(out * r)) unless the op is a
 * loss, and compares <grad, u> with central differences of L along random unit directions u.
 * Tolerance: |fd - analytic| <= 2e-2 * max(|.|) + 2e-3 (f32 forward, h = 1e-2); the bf16 cast
 * (whose gradient is the straight-through one) 1e-1 with h = 0.2, well above bf16's spacing.
 */
import { openDevice, type Device } from '../../lib/runtime';
import type { GraphBuilder } from '../../lib/graph/builder';
import type { Value } from '../../lib/graph/ir';
import type { ProgramInputs } from '../../lib/graph/program';
import type { Shape } from '../../lib/graph/types';
import { compileStep, directionalChecks, expectClose, normals, numelOf, randomizeParams } from '../helpers/graph-harness';
import { mulberry32, randInt } from '../helpers/prng';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => device.dispose());

/** L = sum(out * r) with r an f32 input of out's element count. */
function weightedSum(b: GraphBuilder, out: Value): Value {
  const n = numelOf(out.shape);
  const r = b.input('r', [n, 1]);
  const flat = b.reshape(out.dtype === 'f32' ? out : b.cast(out, 'f32'), [1, n]);
  return b.output('loss', b.reshape(b.matmul(flat, r), []));
}

interface Case {
  name: string;
  build(b: GraphBuilder): void;
  /** Non-parameter inputs other than r. */
  inputs?(rng: () => number): Record<string, { data: Int32Array | Float32Array; shape: Shape }>;
  /** Shape of r (the weighting), when the case ends in weightedSum. */
  rOf?: number;
  rtol?: number;
  /** Step of the central difference (bf16 rounding needs steps well above its spacing). */
  h?: number;
}

const labels = (n: number, c: number) => (rng: () => number) => ({
  labels: { data: Int32Array.from({ length: n }, () => randInt(rng, 0, c - 1)), shape: [n] as Shape },
});

const cases: Case[] = [
  ...([
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ] as const).map(([transA, transB]) => ({
    name: `matmul transA=${transA} transB=${transB}`,
    rOf: 15,
    build(b: GraphBuilder) {
      const a = b.param('a', transA ? [4, 3] : [3, 4]);
      const w = b.param('w', transB ? [5, 4] : [4, 5]);
      weightedSum(b, b.matmul(a, w, { transA, transB }));
    },
  })),
  {
    name: 'matmul of a rank-3 input',
    rOf: 30,
    build(b) {
      weightedSum(b, b.matmul(b.param('a', [2, 3, 4]), b.param('w', [4, 5])));
    },
  },
  {
    name: 'dense + bias + gelu(tanh) (bias fused into the GEMM)',
    rOf: 18,
    build(b) {
      weightedSum(b, b.gelu(b.dense(b.param('x', [3, 4]), b.param('w', [4, 6]), b.param('bias', [6]))));
    },
  },
  {
    name: 'gelu(erf)',
    rOf: 12,
    build(b) {
      weightedSum(b, b.gelu(b.param('x', [3, 4]), 'erf'));
    },
  },
  {
    // The form the fusion pass makes of bias_add -> gelu, differentiated directly (x and bias).
    name: 'gelu(x + bias) with the bias inside the kernel',
    rOf: 12,
    build(b) {
      weightedSum(b, b.graph.apply('gelu', [b.param('x', [3, 4]), b.param('bias', [4])], { form: 'tanh', hasBias: true }));
    },
  },
  {
    name: 'add, scale and a residual GEMM (fused as beta = 1)',
    rOf: 12,
    build(b) {
      const x = b.param('x', [3, 4]);
      const y = b.add(b.scale(x, -1.5), b.matmul(x, b.param('w', [4, 4])));
      weightedSum(b, b.add(y, b.param('z', [3, 4])));
    },
  },
  {
    name: 'layer_norm with bias',
    rOf: 24,
    build(b) {
      weightedSum(b, b.layerNorm(b.param('x', [4, 6]), b.param('scale', [6]), b.param('bias', [6])));
    },
  },
  {
    name: 'rms_norm (QK-norm shape: rows of head_dim)',
    rOf: 32,
    build(b) {
      const q = b.param('q', [2, 2, 8]);
      const rows = b.reshape(q, [2, 2, 2, 4]);
      weightedSum(b, b.reshape(b.rmsNorm(rows, b.param('scale', [4])), [2, 2, 8]));
    },
  },
  {
    name: 'attention (2 heads, Tq != Tk)',
    rOf: 2 * 3 * 8,
    build(b) {
      const q = b.param('q', [2, 3, 8]);
      const k = b.param('k', [2, 5, 8]);
      const v = b.param('v', [2, 5, 8]);
      weightedSum(b, b.attention(q, k, v, { heads: 2 }));
    },
  },
  {
    name: 'softmax cross-entropy with label smoothing',
    build(b) {
      b.output('loss', b.softmaxCrossEntropy(b.param('logits', [6, 5]), b.input('labels', [6], 'i32'), { smoothing: 0.1 }));
    },
    inputs: labels(6, 5),
  },
  {
    name: 'sigmoid cross-entropy',
    build(b) {
      b.output('loss', b.sigmoidCrossEntropy(b.param('logits', [4, 3]), b.input('targets', [4, 3])));
    },
    inputs: (rng) => ({ targets: { data: Float32Array.from({ length: 12 }, () => rng()), shape: [4, 3] } }),
  },
  {
    name: 'mean_pool',
    rOf: 8,
    build(b) {
      weightedSum(b, b.meanPool(b.param('x', [2, 3, 4])));
    },
  },
  {
    name: 'patchify',
    rOf: 2 * 4 * 12,
    build(b) {
      weightedSum(b, b.patchify(b.param('images', [2, 4, 4, 3]), 2));
    },
  },
  {
    name: 'unpatchify',
    rOf: 2 * 4 * 4 * 3,
    build(b) {
      weightedSum(b, b.graph.apply('unpatchify', [b.param('patches', [2, 4, 12])], { patch: 2, imageShape: [2, 4, 4, 3] }));
    },
  },
  {
    name: 'pos_embed_add',
    rOf: 24,
    build(b) {
      weightedSum(b, b.addPositionEmbedding(b.param('x', [2, 3, 4]), b.param('pos', [3, 4])));
    },
  },
  {
    name: 'reshape and copy',
    rOf: 12,
    build(b) {
      const x = b.param('x', [3, 4]);
      weightedSum(b, b.graph.apply('copy', [b.reshape(b.gelu(x), [4, 3])]));
    },
  },
  {
    name: 'slice (middle of an inner axis) and concat (class token before patch tokens)',
    rOf: 2 * 4 * 3,
    build(b) {
      const x = b.param('x', [2, 5, 3]);
      const cls = b.broadcastBatch(b.param('cls', [1, 3]), 2);
      weightedSum(b, b.gelu(b.concat([cls, b.slice(x, 1, 1, 4)], 1)));
    },
  },
  {
    name: 'concat along the last axis and slices of a fused projection',
    rOf: 3 * 5,
    build(b) {
      const z = b.matmul(b.param('h', [3, 4]), b.param('w', [4, 7]));
      const q = b.slice(z, 1, 0, 2);
      const m = b.gelu(b.slice(z, 1, 2, 7));
      weightedSum(b, b.slice(b.concat([q, m], 1), 1, 2, 7));
    },
  },
  {
    name: 'cast to bf16 and back',
    rOf: 12,
    rtol: 1e-1,
    h: 0.2,
    build(b) {
      weightedSum(b, b.gelu(b.cast(b.param('x', [3, 4]), 'bf16')));
    },
  },
  {
    // The split norm's two ops (passes/partition.ts writes them for a feature-split stream): here on
    // whole rows (total = d), where row_moments -> norm_apply is layer_norm, so the whole gradient
    // (norm_apply's direct dx and dstats, row_moments' gradient) is checked end to end.
    name: 'row_moments -> norm_apply (the split norm on whole rows), LayerNorm with bias',
    rOf: 24,
    build(b) {
      const x = b.param('x', [4, 6]);
      const stats = b.graph.apply('row_moments', [x]);
      weightedSum(b, b.graph.apply('norm_apply', [x, stats, b.param('scale', [6]), b.param('bias', [6])], { total: 6, center: true, hasBias: true }));
    },
  },
  {
    name: 'row_moments -> norm_apply, RMSNorm without bias',
    rOf: 24,
    build(b) {
      const x = b.param('x', [4, 6]);
      const stats = b.graph.apply('row_moments', [x]);
      weightedSum(b, b.graph.apply('norm_apply', [x, stats, b.param('scale', [6])], { total: 6, center: false }));
    },
  },
];

describe('gradients through graph -> plan -> native match central differences', () => {
  cases.forEach((c, k) => {
    test(`${c.name} (seed ${100 + k})`, async () => {
      const rng = mulberry32(100 + k);
      const extra = c.inputs ? c.inputs(rng) : {};
      const inputs: ProgramInputs = { ...extra };
      const shapes: Record<string, Shape> = Object.fromEntries(Object.entries(extra).map(([n, v]) => [n, v.shape]));
      if (c.rOf !== undefined) {
        inputs.r = { data: normals(rng, c.rOf), shape: [c.rOf, 1] };
        shapes.r = [c.rOf, 1];
      }
      using p = compileStep(device, (b) => c.build(b), shapes);
      randomizeParams(p, rng);
      const checks = await directionalChecks(p, inputs, rng, 3, c.h);
      for (const check of checks) {
        expect(Math.abs(check.analytic)).toBeGreaterThan(1e-4); // a zero gradient would pass trivially
        expectClose(check, c.rtol ?? 2e-2, 2e-3);
      }
    });
  });
});
