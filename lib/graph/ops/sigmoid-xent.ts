/**
 * sigmoid_xent(logits [N, C], targets f32 [N, C]): mean over examples of the summed per-class
 * binary cross-entropy (multi-label; the paper's JFT objective). Same outputs and gradient scheme as
 * softmax_xent.
 */
import type { Node, Value } from '../ir';
import type { Attrs, GradContext, LowerContext, OpDef } from '../op-def';
import type { TensorType } from '../types';
import { numberAttr } from './check';
import { lossSeed } from './loss-grad-scale';
import { checkLogits, lossOutputs, lowerLossGrad, lowerMeanLoss } from './softmax-xent';

export const sigmoidXentOp: OpDef = {
  name: 'sigmoid_xent',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    return lossOutputs(checkLogits('sigmoid_xent', inputs, attrs, 'targets').n);
  },
  nonDifferentiable: [1],
  grad(ctx: GradContext): (Value | null)[] {
    if (!ctx.dy[0] || !ctx.needs[0]) return [null, null];
    const [logits, targets] = ctx.node.inputs as [Value, Value];
    const dscale = lossSeed(ctx, 'sigmoid_xent');
    const gn = ctx.g.add('sigmoid_xent_grad', [logits, targets], { smoothing: ctx.node.attrs.smoothing ?? 0, dscale });
    return [gn.outputs[0]!, null];
  },
  lower(ctx: LowerContext, node: Node): void {
    lowerMeanLoss(ctx, node, 'sigmoid_xent');
  },
};

export const sigmoidXentGradOp: OpDef = {
  name: 'sigmoid_xent_grad',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    const { n, logits } = checkLogits('sigmoid_xent_grad', inputs, attrs, 'targets');
    numberAttr('sigmoid_xent_grad', 'dscale', attrs.dscale, { fallback: 1 });
    return [{ shape: logits.shape, dtype: logits.dtype }, { shape: [n], dtype: 'f32' }];
  },
  lower(ctx: LowerContext, node: Node): void {
    lowerLossGrad(ctx, node, 'sigmoid_xent');
  },
};
