/**
 * Records: structs that several kernel contracts share (lib/kernels/declare.ts). Generated into
 * native/generated/kernels_gen.h like the argument structs.
 */
import { f, record } from './declare';

const rowLayout = record({
  name: 'RowLayout',
  doc: `Where the rows of a [rows, dim] operand lie in memory: row r starts at element
  (r / groupRows) * groupStride + (r % groupRows) * dim
groupRows == 0 means dense (row r at r * dim; groupStride is then ignored). Rows within a group are
adjacent; groups are groupStride elements apart. The per-head QK-norm reads q straight out of the
fused [B*T, 3D + F] projection output: rows = B*T*H, dim = Dh, groupRows = H, groupStride = 3D + F.
Valid: groupRows == 0, or groupRows >= 1, rows % groupRows == 0 and groupStride >= groupRows * dim
(groups never overlap). The elements spanned, from the operand's first element: dense rows * dim;
grouped (rows / groupRows - 1) * groupStride + groupRows * dim, 0 when rows == 0.`,
  fields: {
    groupRows: f.countOr(0),
    groupStride: f.countOr(0),
  },
  checks: [
    // Dense layouts may leave groupStride out; a grouped one must say where its groups lie.
    { holds: 'groupRows == 0 || has(groupStride)', message: '{field}.groupStride is required when groupRows > 0', expected: 'number', received: 'undefined', example: () => ({ groupRows: 1, groupStride: undefined }) },
  ],
});

const headStrides = record({
  name: 'HeadStrides',
  doc: `Where one [B, T, H, Dh] operand of attention lives: element (b, t, h, d) is at
  data[b * batch + t * token + h * head + d]   (strides in elements).
A dense [B, T, H, Dh] tensor has token H*Dh, head Dh; Q, K and V read straight out of the fused
[B, T, 3D + F] projection output have token stride 3D + F and head stride Dh.`,
  fields: {
    batch: f.count(),
    token: f.count(),
    head: f.count(),
  },
});

const adamwHyper = record({
  name: 'AdamwHyper',
  doc: `Scalars of one AdamW step, shared by every tensor of a multi-tensor call (PyTorch's AdamW):
  g = gradScale * grad                    (gradScale: the global-norm clip factor, or 1)
  param *= 1 - lr * weightDecay           (decoupled decay, on the pre-step weights)
  m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g^2
  param -= lr / (1 - beta1^step) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)`,
  fields: {
    step: f.dynamic('i64', { lo: 1, hi: 9007199254740992, integer: true }, 't >= 1, for the bias corrections', 1),
    lr: f.dynamic('f32', { lo: 0, hi: 1e30 }, undefined, 1e-3),
    beta1: f.number({ lo: 0, hi: 1, hiOpen: true }, undefined, 0.9),
    beta2: f.number({ lo: 0, hi: 1, hiOpen: true }, undefined, 0.999),
    eps: f.number({ lo: 0, hi: 1e30 }, undefined, 1e-8),
    weightDecay: f.dynamic('f32', { lo: 0, hi: 1e30 }),
    gradScale: f.dynamic('f32', { lo: 0, hi: 1e30 }, undefined, 1),
  },
});

const adamwTensor = record({
  name: 'AdamwTensor',
  doc: 'One parameter tensor of n elements.',
  fields: {
    n: f.count(),
    gradType: f.dtype(['f32', 'bf16']),
    param: f.inout('f32', 'n', '[n] f32 master weights, read and written'),
    grad: f.input('gradType', 'n', '[n] of gradType'),
    m: f.inout('f32', 'n', '[n] f32 first moment, read and written'),
    v: f.inout('f32', 'n', '[n] f32 second moment, read and written'),
  },
});

export const RECORDS = {
  RowLayout: rowLayout,
  HeadStrides: headStrides,
  AdamwHyper: adamwHyper,
  AdamwTensor: adamwTensor,
};

