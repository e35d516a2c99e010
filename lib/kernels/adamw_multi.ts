import { f, kernel } from './declare';

export default kernel({
  name: 'adamw_multi',
  fn: 'adamwMulti',
  struct: 'AdamwMultiArgs',
  doc: `AdamW over many tensors in one call (one launch instead of hundreds per step). Written buffers
(param, m, v) must not overlap any other operand of the call; gradients may be shared by several
tensors. The CUDA kernel keeps the device copy of the tensor list in a cache keyed by its contents,
uploaded on the first call (uncaptured): later calls and captured CUDA graphs copy nothing from the
host.`,
  fields: {
    hyper: f.flat('AdamwHyper'),
    tensors: f.list('AdamwTensor', 'count', '[count]'),
  },
});
