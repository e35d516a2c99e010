import { f, kernel } from './declare';

export default kernel({
  name: 'reduce_sum',
  fn: 'reduceSum',
  struct: 'ReduceSumArgs',
  doc: `out[0] = sum of x (or of x^2 with squares), accumulated in double over fixed blocks that are summed
in order: accurate for 10^8+ elements and identical for every thread count.`,
  fields: {
    dtype: f.dtype(['f32', 'bf16']),
    n: f.count(),
    squares: f.bool(),
    x: f.input('dtype', 'n', '[n]'),
    out: f.output('f32', '1', '[1]'),
  },
});
