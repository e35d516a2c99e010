import { f, kernel } from './declare';

export default kernel({
  name: 'topk_accuracy',
  fn: 'topkAccuracy',
  struct: 'TopkAccuracyArgs',
  doc: `counts[0] = examples whose label is the argmax, counts[1] = examples whose label is among the top
k. The rank of the label is #{j : x_j > x_label} + #{j < label : x_j == x_label}: ties go to the
lowest index (as argmax does), and a NaN label logit is never counted.`,
  fields: {
    dtype: f.dtype(['f32', 'bf16'], 'of logits'),
    n: f.count(),
    c: f.count(),
    k: f.count('>= 1'),
    logits: f.input('dtype', 'n * c', '[n, c]'),
    labels: f.input('i32', 'n', '[n]'),
    counts: f.output('i32', '2', '[2]'),
  },
  checks: [
    { holds: 'k >= 1', message: 'k must be at least 1', expected: 'k >= 1', received: '0', example: () => ({ k: 0 }) },
    { holds: 'c >= 1 || n == 0', message: 'needs at least one class', expected: 'c >= 1', received: '0', example: (s) => (s.n > 0 ? { c: 0 } : undefined) },
    { holds: 'n <= 2147483647', message: 'counts are i32', expected: 'n <= 2147483647', received: '${n}', example: () => ({ n: 2 ** 31 }) },
  ],
});
