import { f, kernel } from './declare';

export default kernel({
  name: 'pos_embed_add',
  fn: 'posEmbedAdd',
  struct: 'PosEmbedAddArgs',
  doc: 'x[b, t, d] += pos[t, d], in f32, rounded once to x\'s dtype. pos may be f32 or bf16.',
  fields: {
    dtype: f.dtype(['f32', 'bf16'], 'of x'),
    posDtype: f.dtype(['f32', 'bf16'], 'of pos'),
    b: f.count(),
    t: f.count(),
    d: f.count(),
    x: f.inout('dtype', 'b * t * d', '[b, t, d], read and written'),
    pos: f.input('posDtype', 't * d', '[t, d]'),
  },
});
