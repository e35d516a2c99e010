import { f, kernel } from './declare';

export default kernel({
  name: 'mean_pool',
  fn: 'meanPool',
  struct: 'MeanPoolArgs',
  doc: 'y[b, d] = mean over t of x[b, t, d] (f32 accumulation in order of t).',
  fields: {
    dtype: f.dtype(['f32', 'bf16'], 'of x and y'),
    b: f.count(),
    t: f.count(),
    d: f.count(),
    x: f.input('dtype', 'b * t * d', '[b, t, d]'),
    y: f.output('dtype', 'b * d', '[b, d]'),
  },
  checks: [{ holds: 't >= 1', message: 'needs at least one token', expected: 't >= 1', received: '0', example: () => ({ t: 0 }) }],
});
