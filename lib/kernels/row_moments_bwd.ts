import { f, kernel } from './declare';

export default kernel({
  name: 'row_moments_bwd',
  fn: 'rowMomentsBwd',
  struct: 'RowMomentsBwdArgs',
  doc: `Backward of row_moments: dx[i, j] = dstats[i, 0] + 2 x[i, j] dstats[i, 1], in f32, rounded once
to dtype (overwritten). Elementwise: results do not depend on the thread count.`,
  fields: {
    dtype: f.dtype(['f32', 'bf16'], 'x and dx'),
    rows: f.count(),
    dim: f.count(),
    x: f.input('dtype', 'rows * dim', '[rows, dim]'),
    dstats: f.input('f32', 'rows * 2', '[rows, 2] f32: gradients of (sum, sum of squares)'),
    dx: f.output('dtype', 'rows * dim', '[rows, dim]'),
  },
});
