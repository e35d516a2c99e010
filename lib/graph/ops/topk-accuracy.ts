/**
 * topk_accuracy(logits [N, C], labels i32 [N]) -> i32 [2]: [top-1 hits, top-k hits] of the batch,
 * computed on the device so a step reads back two integers instead of the logits.
 */
import type { Node, Value } from '../ir';
import type { Attrs, LowerContext, OpDef } from '../op-def';
import type { TensorType } from '../types';
import { numberAttr, storageOf } from './check';
import { checkLogits } from './softmax-xent';

export const topkAccuracyOp: OpDef = {
  name: 'topk_accuracy',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    checkLogits('topk_accuracy', inputs, {}, 'labels');
    numberAttr('topk_accuracy', 'k', attrs.k, { integer: true, min: 1, fallback: 5 });
    return [{ shape: [2], dtype: 'i32' }];
  },
  lower(ctx: LowerContext, node: Node): void {
    const [logits, labels] = node.inputs as [Value, Value];
    const [n, c] = logits.shape as [number, number];
    ctx.emit('topk_accuracy', {
      dtype: storageOf('topk_accuracy', 'logits', logits.dtype),
      n,
      c,
      k: Math.min((node.attrs.k as number | undefined) ?? 5, Math.max(c, 1)),
      logits: ctx.view(logits),
      labels: ctx.view(labels),
      counts: ctx.view(node.outputs[0]!),
    });
  },
};
