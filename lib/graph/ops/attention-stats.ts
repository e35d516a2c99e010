/**
 * attention_stats(q [B, Tq, D], k [B, Tk, D]) with `heads` heads -> f32 [2]: the largest attention
 * logit scale * q . k and the mean entropy (nats) of the attention rows, as the attention op with
 * the same q, k, heads and scale would see them. For monitoring (the QK-norm stability study):
 * it has no gradient, so it may only feed graph outputs, never the loss.
 */
import type { Node } from '../ir';
import type { Attrs, LowerContext, OpDef } from '../op-def';
import { shapeText, type TensorType } from '../types';
import { attentionOperandFits, queryKeySpec } from './attention';
import { numberAttr, requireArity, requireDType, requireRank, requireSameDType, shapeMismatch } from './check';

export const attentionStatsOp: OpDef = {
  name: 'attention_stats',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    requireArity('attention_stats', inputs, 2);
    const [q, k] = inputs as [TensorType, TensorType];
    for (const [n, t] of [['q', q], ['k', k]] as const) {
      requireRank('attention_stats', n, t, 3);
      requireDType('attention_stats', n, t, ['f32', 'bf16']);
    }
    requireSameDType('attention_stats', 'q and k', q, k);
    const [b, , d] = q.shape as [number, number, number];
    if (k.shape[0] !== b || k.shape[2] !== d) {
      throw shapeMismatch('attention_stats', 'k must be [B, Tk, D] with q [B, Tq, D]', `[${b}, Tk, ${d}]`, shapeText(k.shape));
    }
    const heads = numberAttr('attention_stats', 'heads', attrs.heads, { integer: true, min: 1 });
    if (d % heads !== 0) throw shapeMismatch('attention_stats', 'heads must divide the width', `a divisor of ${d}`, String(heads));
    if (attrs.scale !== undefined) numberAttr('attention_stats', 'scale', attrs.scale);
    return [{ shape: [2], dtype: 'f32' }];
  },
  windowInput: (node, input, rowLen) => attentionOperandFits(node, node.inputs[input]!, rowLen),
  lower(ctx: LowerContext, node: Node): void {
    ctx.emit('attention_stats', { ...queryKeySpec(ctx, node).spec, out: ctx.view(node.outputs[0]!) });
  },
};
