import { f, FINITE, kernel } from './declare';

export default kernel({
  name: 'sigmoid_xent',
  fn: 'sigmoidXent',
  struct: 'SigmoidXentArgs',
  doc: `Sigmoid (multi-label) cross-entropy: each class is its own binary problem with target
  t' = (1 - epsilon) * t + epsilon / 2
  loss[i] = sum_j max(x, 0) - x t' + log1p(exp(-|x|))      (no overflow for any |x|)
  dlogits[i, j] = (sigmoid(x_ij) - t'_ij) * dscale / N
Targets must lie in [0, 1] (checked by the kernel, as it needs the data: ERR_INVALID_ARGUMENT on the
CPU; NaN loss on CUDA, as for softmax_xent). dlogits may be null.`,
  fields: {
    dtype: f.dtype(['f32', 'bf16'], 'of logits and dlogits'),
    n: f.count(),
    c: f.count(),
    epsilon: f.number({ lo: 0, hi: 1 }),
    dscale: f.number(FINITE, undefined, 1),
    logits: f.input('dtype', 'n * c', '[n, c]'),
    targets: f.input('f32', 'n * c', '[n, c]'),
    loss: f.output('f32', 'n', '[n]'),
    dlogits: f.maybe('out', 'dtype', 'n * c', '[n, c] or null'),
  },
});
