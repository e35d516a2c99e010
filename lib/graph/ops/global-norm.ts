/**
 * global_norm(g_1, ..., g_k) -> f32 []: sqrt of the sum of squares of every input, in one kernel
 * call (the gradient norm that clipping and the trainer's logs use).
 */
import type { Node } from '../ir';
import type { Attrs, LowerContext, OpDef } from '../op-def';
import { numel, type TensorType } from '../types';
import { requireDType, storageOf } from './check';

export const globalNormOp: OpDef = {
  name: 'global_norm',
  infer(inputs: readonly TensorType[], _attrs: Attrs): TensorType[] {
    inputs.forEach((t, i) => requireDType('global_norm', `input ${i}`, t, ['f32', 'bf16']));
    return [{ shape: [], dtype: 'f32' }];
  },
  lower(ctx: LowerContext, node: Node): void {
    ctx.emit('global_norm', {
      buffers: node.inputs.map((v) => ctx.view(v)),
      dtypes: node.inputs.map((v, i) => storageOf('global_norm', `input ${i}`, v.dtype)),
      sizes: node.inputs.map((v) => numel(v.shape)),
      out: ctx.view(node.outputs[0]!),
    });
  },
};
