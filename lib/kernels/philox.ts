import { f, kernel } from './declare';

export default kernel({
  name: 'philox',
  fn: 'philox',
  struct: 'PhiloxArgs',
  doc: `Raw Philox4x32-10 output (Salmon et al., SC'11): block b (0 <= b < blocks) is philox(counter + b,
key), counter a 128-bit little-endian integer of four u32 words (carries propagate), out[4b .. 4b+3]
its four words (an i32 tensor on the TypeScript side).`,
  fields: {
    key: f.words(2),
    counter: f.words(4),
    blocks: f.count(),
    out: f.output('i32', 'blocks * 4', '[4 * blocks]', { pointer: 'uint32_t*' }),
  },
});
