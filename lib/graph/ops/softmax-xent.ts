/**
 * softmax_xent(logits [N, C], labels i32 [N]): mean softmax cross-entropy with label smoothing.
 * Outputs [loss [] f32, perExample [N] f32, lossSum [] f32 (scratch)]. The gradient is the fused
 * kernel again (softmax_xent_grad), which writes dlogits = (softmax - target) * seed / N.
 */
import type { KernelSpec } from '../../kernels/spec';
import type { PlanScalar, PlanView } from '../../runtime/plan-format';
import type { Node, Value } from '../ir';
import type { Attrs, GradContext, LowerContext, OpDef } from '../op-def';
import { shapeText, type TensorType } from '../types';
import { numberAttr, requireArity, requireDType, requireRank, shapeMismatch, storageOf } from './check';
import { emitAxpby } from './emit';
import { lossSeed } from './loss-grad-scale';

export interface XentAttrs {
  smoothing?: number;
  dscale?: number;
}

function checkLogits(op: string, inputs: readonly TensorType[], attrs: Attrs, second: 'labels' | 'targets') {
  requireArity(op, inputs, 2);
  const [logits, y] = inputs as [TensorType, TensorType];
  requireRank(op, 'logits', logits, 2);
  requireDType(op, 'logits', logits, ['f32', 'bf16']);
  const [n, c] = logits.shape as [number, number];
  if (second === 'labels') {
    requireDType(op, 'labels', y, ['i32']);
    if (y.shape.length !== 1 || y.shape[0] !== n) throw shapeMismatch(op, 'labels must be [N]', `[${n}]`, shapeText(y.shape));
  } else {
    requireDType(op, 'targets', y, ['f32']);
    if (y.shape.length !== 2 || y.shape[0] !== n || y.shape[1] !== c) {
      throw shapeMismatch(op, 'targets must be [N, C]', `[${n}, ${c}]`, shapeText(y.shape));
    }
  }
  numberAttr(op, 'smoothing', attrs.smoothing, { min: 0, max: 1, fallback: 0 });
  return { n, c, logits };
}

/** The cross-entropy kernels: softmax_xent takes the labels, sigmoid_xent the targets. */
export type XentKernel = 'softmax_xent' | 'sigmoid_xent';

/** A cross-entropy spec but its labels or targets (the two kernels' specs differ only there). */
type XentSpec = Omit<KernelSpec<'softmax_xent', PlanView, PlanScalar>, 'labels'>;

/** Launches `kernel` with `y` as its labels (softmax_xent) or targets (sigmoid_xent), after logits. */
function emitXent(ctx: LowerContext, kernel: XentKernel, y: PlanView, { loss, dlogits, ...head }: XentSpec): void {
  const tail = { loss, ...(dlogits ? { dlogits } : {}) };
  if (kernel === 'softmax_xent') ctx.emit(kernel, { ...head, labels: y, ...tail });
  else ctx.emit(kernel, { ...head, targets: y, ...tail });
}

/** The per-example kernel, the sum and the mean: shared by both cross-entropies. */
export function lowerMeanLoss(ctx: LowerContext, node: Node, kernel: XentKernel): void {
  const [logits, y] = node.inputs as [Value, Value];
  const [loss, perExample, lossSum] = node.outputs as [Value, Value, Value];
  const [n, c] = logits.shape as [number, number];
  emitXent(ctx, kernel, ctx.view(y), {
    dtype: storageOf(node.op, 'logits', logits.dtype),
    n,
    c,
    epsilon: (node.attrs as XentAttrs).smoothing ?? 0,
    dscale: 1,
    logits: ctx.view(logits),
    loss: ctx.view(perExample),
  });
  ctx.emit('reduce_sum', { dtype: 'f32', n, squares: false, x: ctx.view(perExample), out: ctx.view(lossSum) });
  emitAxpby(ctx, 'f32', 1, n === 0 ? 0 : 1 / n, ctx.view(lossSum), 0, ctx.view(loss));
}

export function lowerLossGrad(ctx: LowerContext, node: Node, kernel: XentKernel): void {
  const [logits, y] = node.inputs as [Value, Value];
  const [dlogits, perExample] = node.outputs as [Value, Value];
  const [n, c] = logits.shape as [number, number];
  const at = node.attrs as XentAttrs;
  emitXent(ctx, kernel, ctx.view(y), {
    dtype: storageOf(node.op, 'logits', logits.dtype),
    n,
    c,
    epsilon: at.smoothing ?? 0,
    dscale: at.dscale ?? 1,
    logits: ctx.view(logits),
    loss: ctx.view(perExample),
    dlogits: ctx.view(dlogits),
  });
}

export function lossOutputs(n: number): TensorType[] {
  return [
    { shape: [], dtype: 'f32' },
    { shape: [n], dtype: 'f32' },
    { shape: [], dtype: 'f32' },
  ];
}

export const softmaxXentOp: OpDef = {
  name: 'softmax_xent',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    return lossOutputs(checkLogits('softmax_xent', inputs, attrs, 'labels').n);
  },
  nonDifferentiable: [1],
  grad(ctx: GradContext): (Value | null)[] {
    if (!ctx.dy[0] || !ctx.needs[0]) return [null, null];
    const [logits, labels] = ctx.node.inputs as [Value, Value];
    const dscale = lossSeed(ctx, 'softmax_xent');
    const gn = ctx.g.add('softmax_xent_grad', [logits, labels], { smoothing: ctx.node.attrs.smoothing ?? 0, dscale });
    return [gn.outputs[0]!, null];
  },
  lower(ctx: LowerContext, node: Node): void {
    lowerMeanLoss(ctx, node, 'softmax_xent');
  },
};

/** softmax_xent_grad(logits, labels) -> [dlogits, perExample scratch]. */
export const softmaxXentGradOp: OpDef = {
  name: 'softmax_xent_grad',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    const { n, logits } = checkLogits('softmax_xent_grad', inputs, attrs, 'labels');
    numberAttr('softmax_xent_grad', 'dscale', attrs.dscale, { fallback: 1 });
    return [{ shape: logits.shape, dtype: logits.dtype }, { shape: [n], dtype: 'f32' }];
  },
  lower(ctx: LowerContext, node: Node): void {
    lowerLossGrad(ctx, node, 'softmax_xent');
  },
};

export { checkLogits };
