import { f, kernel } from './declare';

export default kernel({
  name: 'row_moments',
  fn: 'rowMoments',
  struct: 'RowMomentsArgs',
  doc: `The partial statistics of a norm whose rows are split by columns over devices (the ViT-22B
layout: the residual [B*T, D/k] per device): per row of this slice,
  stats[i, 0] = sum_j x[i, j],  stats[i, 1] = sum_j x[i, j]^2
accumulated in double from the storage type, stored f32. Summed (all-reduced) over the slices they
give norm_apply the global moments. Rows are independent: results do not depend on the thread count.`,
  fields: {
    dtype: f.dtype(['f32', 'bf16'], 'x'),
    rows: f.count(),
    dim: f.count('columns of this slice'),
    x: f.input('dtype', 'rows * dim', '[rows, dim]'),
    stats: f.output('f32', 'rows * 2', '[rows, 2] f32: (sum, sum of squares)'),
  },
});
