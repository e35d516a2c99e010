import { f, FINITE, kernel } from './declare';

export default kernel({
  name: 'softmax_xent',
  fn: 'softmaxXent',
  struct: 'SoftmaxXentArgs',
  doc: `Softmax cross-entropy with label smoothing, one row of logits per example, in one pass:
  q = (1 - epsilon) * onehot(label) + epsilon / C        (the smoothed target)
  loss[i] = logsumexp(x_i) - sum_j q_j x_ij              (max-subtracted, so any finite logits)
  dlogits[i, j] = (softmax(x_i)_j - q_j) * dscale / N    (the gradient of dscale * mean(loss))
Labels must lie in [0, C): a check that needs the data, so the kernel makes it (ERR_INVALID_ARGUMENT
on the CPU; on CUDA, where it would cost a device-to-host sync and break graph capture, a bad label
makes that row's loss and dlogits NaN, which the step's non-finite guard then reports;
VIT22B_CUDA_CHECK_INPUTS=1 restores the error). dlogits may be null (loss only) and has the logits'
dtype; row sums are accumulated in double.`,
  fields: {
    dtype: f.dtype(['f32', 'bf16'], 'of logits and dlogits'),
    n: f.count(),
    c: f.count(),
    epsilon: f.number({ lo: 0, hi: 1 }, 'label smoothing, in [0, 1]'),
    dscale: f.number(FINITE, undefined, 1),
    logits: f.input('dtype', 'n * c', '[n, c]'),
    labels: f.input('i32', 'n', '[n]'),
    loss: f.output('f32', 'n', '[n]'),
    dlogits: f.maybe('out', 'dtype', 'n * c', '[n, c] or null'),
  },
  checks: [{ holds: 'c >= 1 || n == 0', message: 'needs at least one class', expected: 'c >= 1', received: '0', example: (s) => (s.n > 0 ? { c: 0 } : undefined) }],
});
