// attention_stats (native/cpu/attention_stats.cc) through attentionStats and the graph op: what the
// kernel table (test/cases/attention_stats.ts) cannot say. The float64 comparisons on dense operands,
// the fused projection, the MAP head, strided and heads-major views, f32 and bf16, are cases there
// (the same tolerance as here). Here: the wrapper on q and k windows of one fused projection buffer
// (with fusedHeads; its one correctness check), uniform attention's entropy log(Tk) to 1e-6 (tighter
// than the table's 1e-5 (1 + |ref|)) and a NaN input showing in the max, the graph op in a compiled
// program, typed errors. Tolerances: the max logit is one f32 dot product over Dh terms of magnitude
// <= ~1, so |err| <= 1e-5 * (1 + |ref|); the entropy sums exp in float64 from f32 logits, so
// |err| <= 1e-5 * (1 + ref) as well.
import { attentionStats, compile, fusedHeads, GraphBuilder, openDevice, type Device } from '../../lib';
import { mulberry32 } from '../helpers/prng';
import { randomValues } from '../helpers/kernel-runs';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => device.dispose());

interface Dims {
  batch: number;
  heads: number;
  tq: number;
  tk: number;
  headDim: number;
}

/** Max logit and mean row entropy of q [B, Tq, H, Dh], k [B, Tk, H, Dh] stored at `width` per token. */
function reference(q: Float64Array, k: Float64Array, d: Dims, scale: number, qWidth: number, kWidth: number, qOff = 0, kOff = 0): [number, number] {
  let best = -Infinity;
  let entropy = 0;
  for (let b = 0; b < d.batch; b++) {
    for (let h = 0; h < d.heads; h++) {
      for (let i = 0; i < d.tq; i++) {
        const s: number[] = [];
        for (let j = 0; j < d.tk; j++) {
          let dot = 0;
          for (let x = 0; x < d.headDim; x++) {
            dot += q[(b * d.tq + i) * qWidth + qOff + h * d.headDim + x]! * k[(b * d.tk + j) * kWidth + kOff + h * d.headDim + x]!;
          }
          s.push(scale * dot);
        }
        const m = Math.max(...s);
        const z = s.reduce((a, v) => a + Math.exp(v - m), 0);
        entropy -= s.reduce((a, v) => {
          const p = Math.exp(v - m) / z;
          return a + p * Math.log(p);
        }, 0);
        best = Math.max(best, m);
      }
    }
  }
  return [best, entropy / (d.batch * d.heads * d.tq)];
}

function expectClose(got: ArrayLike<number>, ref: [number, number]): void {
  for (let i = 0; i < 2; i++) {
    const want = ref[i]!;
    const err = Math.abs(got[i]! - want);
    if (!(err <= 1e-5 * (1 + Math.abs(want)))) throw new Error(`out[${i}]: got ${got[i]}, reference ${want}`);
  }
}

describe('attention_stats', () => {
  test('strided q and k inside one fused [B, T, 3D] projection buffer', () => {
    const d: Dims = { batch: 2, heads: 4, tq: 9, tk: 9, headDim: 8 };
    const width = 3 * d.heads * d.headDim;
    const qkv = randomValues(mulberry32(7), d.batch * d.tq * width, -1.5, 1.5, 'f32');
    using t = device.tensor('f32', [d.batch, d.tq, width], Float32Array.from(qkv));
    using out = device.alloc('f32', [2]);
    attentionStats(device, { q: fusedHeads(t, 0, d.heads, d.headDim), k: fusedHeads(t, d.heads * d.headDim, d.heads, d.headDim) }, out);
    expectClose(out.download() as Float32Array, reference(qkv, qkv, d, 1 / Math.sqrt(d.headDim), width, width, 0, d.heads * d.headDim));
  });

  test('uniform attention has entropy log(Tk); a NaN input shows in the max', () => {
    const d: Dims = { batch: 1, heads: 2, tq: 3, tk: 10, headDim: 4 };
    // Every key equal: every logit of a row is the same, so p is uniform whatever q is.
    const q = randomValues(mulberry32(3), d.tq * 8, -1, 1, 'f32');
    const k = new Float32Array(d.tk * 8).fill(0.25);
    using qt = device.tensor('f32', [1, d.tq, 2, 4], Float32Array.from(q));
    using kt = device.tensor('f32', [1, d.tk, 2, 4], k);
    using out = device.alloc('f32', [2]);
    attentionStats(device, { q: qt, k: kt }, out);
    const got = out.download() as Float32Array;
    expect(Math.abs(got[1]! - Math.log(10))).toBeLessThan(1e-6);
    const poisoned = Float32Array.from(q);
    poisoned[5] = NaN;
    qt.upload(poisoned);
    attentionStats(device, { q: qt, k: kt }, out);
    expect(Number.isNaN((out.download() as Float32Array)[0])).toBe(true);
  });

  test('the graph op gives the kernel result, in a compiled forward program', async () => {
    const d: Dims = { batch: 2, heads: 2, tq: 5, tk: 5, headDim: 8 };
    const width = d.heads * d.headDim;
    const q = randomValues(mulberry32(11), d.batch * d.tq * width, -2, 2, 'f32');
    const k = randomValues(mulberry32(12), d.batch * d.tk * width, -2, 2, 'f32');
    const b = new GraphBuilder();
    b.output('stats', b.attentionStats(b.input('q', [d.batch, d.tq, width]), b.input('k', [d.batch, d.tk, width]), { heads: d.heads }));
    using program = compile(b.graph, { device, inputShapes: { q: [d.batch, d.tq, width], k: [d.batch, d.tk, width] } });
    const out = await program.run({ q: Float32Array.from(q), k: Float32Array.from(k) });
    expectClose(out.stats as Float32Array, reference(q, k, d, 1 / Math.sqrt(d.headDim), width, width));
  });

  test('bad operands get typed errors', () => {
    using q = device.alloc('f32', [1, 2, 2, 4]);
    using k = device.alloc('f32', [1, 3, 2, 4]);
    using wrong = device.alloc('f32', [3]);
    expect(() => attentionStats(device, { q, k }, wrong)).toThrow(expect.objectContaining({ code: 'ERR_SHAPE_MISMATCH' }));
    using kBad = device.alloc('bf16', [1, 3, 2, 4]);
    using out = device.alloc('f32', [2]);
    expect(() => attentionStats(device, { q, k: kBad }, out)).toThrow(expect.objectContaining({ code: 'ERR_DTYPE_MISMATCH' }));
  });
});
