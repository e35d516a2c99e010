/**
 * The three ops of gradient accumulation over micro-batches, on persistent `gradacc/<name>` buffers:
 *   grad_accumulate(acc, g)   acc += g                       (mode 'accumulate'; an effect)
 *   grad_mean(acc, g) -> out  out = s (acc + g), s = 1 / k   (the 'train' step: k micro-batches in
 *                                                            all, this one included; s is the run
 *                                                            scalar 'gradMean' that Program.run sets)
 *   grad_clear(acc)           acc = 0                        (after the step's non-finite guard)
 * All through axpby (y = alpha x + beta y) and random_init's constant fill.
 */
import type { Node, Value } from '../ir';
import type { Attrs, LowerContext, OpDef } from '../op-def';
import { numel, type TensorType } from '../types';
import { requireArity, requireDType, requireShape } from './check';
import { emitAxpby } from './emit';

function checkPair(op: string, inputs: readonly TensorType[]): void {
  requireArity(op, inputs, 2);
  const [acc, g] = inputs as [TensorType, TensorType];
  requireDType(op, 'acc', acc, ['f32']);
  requireDType(op, 'grad', g, ['f32']);
  requireShape(op, 'grad', g, acc.shape);
}

export const gradAccumulateOp: OpDef = {
  name: 'grad_accumulate',
  effect: true,
  infer(inputs: readonly TensorType[], _attrs: Attrs): TensorType[] {
    checkPair('grad_accumulate', inputs);
    return [];
  },
  lower(ctx: LowerContext, node: Node): void {
    const [acc, g] = node.inputs as [Value, Value];
    emitAxpby(ctx, 'f32', numel(acc.shape), 1, ctx.view(g), 1, ctx.view(acc));
  },
};

export const gradMeanOp: OpDef = {
  name: 'grad_mean',
  infer(inputs: readonly TensorType[], _attrs: Attrs): TensorType[] {
    checkPair('grad_mean', inputs);
    return [{ shape: inputs[0]!.shape, dtype: 'f32' }];
  },
  lower(ctx: LowerContext, node: Node): void {
    const [acc, g] = node.inputs as [Value, Value];
    const out = ctx.view(node.outputs[0]!);
    const s = ctx.runtimeScalar('gradMean');
    const n = numel(acc.shape);
    emitAxpby(ctx, 'f32', n, s, ctx.view(g), 0, out);
    emitAxpby(ctx, 'f32', n, s, ctx.view(acc), 1, out);
  },
};

export const gradClearOp: OpDef = {
  name: 'grad_clear',
  effect: true,
  infer(inputs: readonly TensorType[], _attrs: Attrs): TensorType[] {
    requireArity('grad_clear', inputs, 1);
    requireDType('grad_clear', 'acc', inputs[0]!, ['f32']);
    return [];
  },
  lower(ctx: LowerContext, node: Node): void {
    const acc = node.inputs[0] as Value;
    // A constant fill, not 0 * acc: zero whatever acc holds.
    ctx.emit('random_init', { dtype: 'f32', dist: 'constant', seed: 0, offset: 0, start: 0, n: numel(acc.shape), a: 0, b: 0, out: ctx.view(acc) });
  },
};
