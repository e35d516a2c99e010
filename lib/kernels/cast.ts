import { f, kernel } from './declare';

export default kernel({
  name: 'cast',
  fn: 'cast',
  struct: 'CastArgs',
  doc: `y = x converted: f32 -> bf16 rounds to nearest even and keeps NaNs NaN; bf16 -> f32 is exact;
equal types copy.`,
  fields: {
    from: f.dtype(['f32', 'bf16']),
    to: f.dtype(['f32', 'bf16']),
    n: f.count(),
    x: f.input('from', 'n', '[n]'),
    y: f.output('to', 'n', '[n]'),
  },
});
