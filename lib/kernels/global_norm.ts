import { f, kernel } from './declare';

export default kernel({
  name: 'global_norm',
  fn: 'globalNorm',
  struct: 'GlobalNormArgs',
  doc: `out[0] = sqrt(sum over every buffer of sum of squares): the global gradient norm of many buffers
of mixed sizes and dtypes in one call, deterministic like ReduceSumArgs. The CUDA kernel copies
nothing from the host arrays to the device (it passes the list in its launch parameters), so the
call can be captured in a CUDA graph.`,
  fields: {
    list: f.columns('count', 'buffers', { name: 'dtypes', allowed: ['f32', 'bf16'] }, 'sizes', 'the buffers, one per entry'),
    out: f.output('f32', '1', '[1]'),
  },
});
