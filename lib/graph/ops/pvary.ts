/**
 * pvary(x) over a mesh axis: the identity, marking where a value that is the same on every rank of
 * the axis (a replicated weight, an all-reduced statistic) meets computation that differs per rank
 * (another batch shard, other weight columns). Each rank's gradient of it is then only that rank's
 * contribution, so the gradient is their sum: all_reduce. This is how autodiff writes the gradient
 * all-reduce of replicated weights over the data axis (JAX calls the same marker pvary).
 */
import type { Node, Value } from '../ir';
import type { Attrs, GradContext, OpDef } from '../op-def';
import type { TensorType } from '../types';
import { requireArity } from './check';
import { collectiveAttrs, type CollectiveAttrs } from './collective-attrs';

export const pvaryOp: OpDef = {
  name: 'pvary',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    requireArity('pvary', inputs, 1);
    // Any dtype: it is the identity (labels meet model-varying logits); only floats carry a gradient.
    collectiveAttrs('pvary', attrs);
    return [{ shape: inputs[0]!.shape, dtype: inputs[0]!.dtype }];
  },
  grad(ctx: GradContext): (Value | null)[] {
    const dy = ctx.dy[0];
    if (!dy || !ctx.needs[0]) return [null];
    const { axis, ranks } = ctx.node.attrs as unknown as CollectiveAttrs;
    return [ctx.g.apply('all_reduce', [dy], { axis, ranks })];
  },
  view: true,
  lower(_ctx, _node: Node): void {
    void (_node.inputs[0] as Value);
  },
};
