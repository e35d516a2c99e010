import { f, F32_MAX, kernel } from './declare';

export default kernel({
  name: 'clip_scale',
  fn: 'clipScale',
  struct: 'ClipScaleArgs',
  doc: `The global-norm clip factor, computed on the device so a step needs no round trip to the host:
  scale[0] = norm[0] > maxNorm ? maxNorm / norm[0] : 1
A non-finite norm (NaN, +-inf: an overflowed gradient) gives NaN, so the update it feeds turns the
parameters NaN and the trainer sees the failure instead of a silently skipped clip.`,
  fields: {
    norm: f.input('f32', '1', '[1], from GlobalNormArgs::out'),
    maxNorm: f.number({ lo: 0, hi: F32_MAX }, '> 0, finite', 1),
    scale: f.output('f32', '1', '[1]'),
  },
  checks: [{ holds: 'maxNorm > 0.0', message: 'maxNorm must be a positive f32', expected: 'maxNorm > 0 in f32', received: '${maxNorm}', example: () => ({ maxNorm: 1e-50 }) }],
});
