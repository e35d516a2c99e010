import { f, FINITE, kernel } from './declare';

export default kernel({
  name: 'axpby',
  fn: 'axpby',
  struct: 'AxpbyArgs',
  doc: `y = alpha * x + beta * y over n elements of \`dtype\` (bf16 is computed in f32 and rounded once on
store). Scaling, residual adds and their backward all reduce to this. alpha and beta may be
dynamic in a plan (a factor computed in the same step); beta == 0 never reads y.`,
  fields: {
    dtype: f.dtype(['f32', 'bf16']),
    n: f.count(),
    alpha: f.dynamic('f32', FINITE),
    x: f.input('dtype', 'n', '[n]'),
    beta: f.dynamic('f32', FINITE),
    y: f.inout('dtype', 'n', '[n], read and written'),
  },
  // x may be y itself (each element is read, then written, by one thread), never a partial overlap.
  aliases: [{ output: 'y', inPlace: [{ input: 'x', expected: 'y identical to x or disjoint from it' }] }],
});
