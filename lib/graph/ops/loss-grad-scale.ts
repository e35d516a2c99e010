/**
 * The losses' fused kernels produce their logits gradient directly, scaled by a host constant, so a
 * loss must be differentiated from a constant seed (the loss itself, or a constant multiple of it
 * inside a weighted sum). This reads that constant or says why it can't.
 */
import { Vit22bError } from '../../runtime/errors';
import type { GradContext } from '../op-def';

export function lossSeed(ctx: GradContext, op: string): number {
  const dy = ctx.dy[0]!;
  const c = ctx.constant(dy);
  if (c === undefined) {
    throw new Vit22bError('ERR_NOT_IMPLEMENTED', `${op}: the loss must be differentiated from a constant seed`, {
      expected: 'the loss (or a constant multiple of it) as the differentiated output',
      received: `a gradient computed from %${dy.id} (${dy.node.op})`,
    });
  }
  return c;
}
