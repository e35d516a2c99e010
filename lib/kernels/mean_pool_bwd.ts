import { f, kernel } from './declare';

export default kernel({
  name: 'mean_pool_bwd',
  fn: 'meanPoolBwd',
  struct: 'MeanPoolBwdArgs',
  doc: 'dx[b, t, d] = dy[b, d] / T.',
  fields: {
    dtype: f.dtype(['f32', 'bf16'], 'of dy and dx'),
    b: f.count(),
    t: f.count(),
    d: f.count(),
    dy: f.input('dtype', 'b * d', '[b, d]'),
    dx: f.output('dtype', 'b * t * d', '[b, t, d]'),
  },
  checks: [{ holds: 't >= 1', message: 'needs at least one token', expected: 't >= 1', received: '0', example: () => ({ t: 0 }) }],
});
