/**
 * clip_scale(norm f32 []) -> f32 []: min(1, maxNorm / norm), the factor global-norm clipping
 * multiplies every gradient by. Computed on the device and read by the optimizer kernels in the
 * same step, so clipping costs no round trip to the host.
 */
import type { Node, Value } from '../ir';
import type { Attrs, LowerContext, OpDef } from '../op-def';
import type { TensorType } from '../types';
import { numberAttr, requireArity, requireShape } from './check';

const maxNormOf = (attrs: Attrs) => numberAttr('clip_scale', 'maxNorm', attrs.maxNorm, { min: Number.MIN_VALUE });

export const clipScaleOp: OpDef = {
  name: 'clip_scale',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    requireArity('clip_scale', inputs, 1);
    requireShape('clip_scale', 'norm', inputs[0]!, []);
    maxNormOf(attrs);
    return [{ shape: [], dtype: 'f32' }];
  },
  lower(ctx: LowerContext, node: Node): void {
    ctx.emit('clip_scale', { norm: ctx.view(node.inputs[0] as Value), maxNorm: maxNormOf(node.attrs), scale: ctx.view(node.outputs[0]!) });
  },
};
