import { f, kernel } from './declare';

export default kernel({
  name: 'pos_embed_bwd',
  fn: 'posEmbedBwd',
  struct: 'PosEmbedBwdArgs',
  doc: `dpos[t, d] = sum over b of dx[b, t, d] in f32, in a fixed order: b is cut into blocks of
kPosEmbedBwdRowBlock (256) rows, each block summed in order of b (in groups of four,
((r0 + r1) + (r2 + r3)), then one by one), and the block sums added in block order. The blocks let a
GPU sum a 32768-row bias gradient with thousands of threads, and both backends give the same bits
whatever their thread count. The gradient of x is dx itself and needs no kernel. Also sum_to's kernel
(t = 1): the bias gradient, the sum of dx's rows, where dx may be a column window of a wider matrix:
row (b, t) of dx starts at dx + (b * t_count + t) * dxRowStride (elements; 0 means d, i.e. dense).`,
  fields: {
    dtype: f.dtype(['f32', 'bf16'], 'of dx'),
    posDtype: f.dtype(['f32', 'bf16'], 'of dpos'),
    b: f.count(),
    t: f.count(),
    d: f.count(),
    dxRowStride: f.countOr(0, 'elements between consecutive (b, t) rows of dx; 0 = d (dense)'),
    dx: f.input('dtype', 'stridedRows(b * t, d, dxRowStride)', '[b, t, d], rows dxRowStride apart'),
    dpos: f.output('posDtype', 't * d', '[t, d]'),
  },
  checks: [
    { holds: 'dxRowStride == 0 || dxRowStride >= d', message: 'dxRowStride must be 0 (dense) or at least d', expected: '0 or >= ${d}', received: '${dxRowStride}', example: (s) => (s.d > 1 ? { dxRowStride: s.d - 1 } : undefined) },
  ],
});
