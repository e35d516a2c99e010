/**
 * attention(q [B, Tq, D], k [B, Tk, D], v [B, Tk, D]) with `heads` heads of D / heads: the fused
 * flash-style kernel. Outputs [o [B, Tq, D], lse [B, H, Tq] f32]; the backward recomputes the
 * probabilities from lse (attention_grad), so no [T, T] matrix is ever stored.
 */
import type { Node, Value } from '../ir';
import type { Attrs, GradContext, LowerContext, OpDef } from '../op-def';
import { shapeText, type TensorType } from '../types';
import { numberAttr, requireArity, requireDType, requireRank, requireSameDType, shapeMismatch, storageOf } from './check';
import { headOperand, headsFit } from './window-layout';

export interface AttentionAttrs {
  heads: number;
  /** Logit scale; 1 / sqrt(headDim) by default. */
  scale?: number;
}

/** Sizes and logit scale of an attention-shaped node: inputs q [B, Tq, D], k [B, Tk, D], attrs heads (and scale). */
export function attentionDims(node: { inputs: readonly { shape: readonly number[] }[]; attrs: Attrs }) {
  const [b, tq, d] = node.inputs[0]!.shape as [number, number, number];
  const tk = node.inputs[1]!.shape[1]!;
  const heads = (node.attrs as unknown as AttentionAttrs).heads;
  const headDim = d / heads;
  const scale = (node.attrs as unknown as AttentionAttrs).scale ?? 1 / Math.sqrt(headDim);
  return { b, tq, tk, d, heads, headDim, scale };
}

/** Whether operand `v` ([B, T, D], T of Tq or Tk) of an attention-shaped node can be a window of rows of rowLen. */
export function attentionOperandFits(node: Node, v: Value, rowLen: number): boolean {
  return headsFit(rowLen, v.shape[1]!, v.shape[2]!);
}

/**
 * The sizes, scale and the q, k operands of an attention-shaped launch (attention_fwd, attention_bwd,
 * attention_stats), with q and k as the node's first two inputs.
 */
export function queryKeySpec(ctx: LowerContext, node: Node) {
  const { b, tq, tk, d, heads, headDim, scale } = attentionDims(node);
  const [q, k] = node.inputs as [Value, Value];
  const spec = {
    dtype: storageOf(node.op, 'q', q.dtype),
    batch: b,
    heads,
    tq,
    tk,
    headDim,
    scale,
    q: headOperand(ctx, q, tq, d, headDim),
    k: headOperand(ctx, k, tk, d, headDim),
  };
  return { spec, tq, tk, d, headDim };
}

/** queryKeySpec and the v operand, common to the forward and backward launches. */
function sharedSpec(ctx: LowerContext, node: Node) {
  const r = queryKeySpec(ctx, node);
  return { ...r, spec: { ...r.spec, v: headOperand(ctx, node.inputs[2]!, r.tk, r.d, r.headDim) } };
}

export const attentionOp: OpDef = {
  name: 'attention',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    requireArity('attention', inputs, 3);
    const [q, k, v] = inputs as [TensorType, TensorType, TensorType];
    for (const [n, t] of [['q', q], ['k', k], ['v', v]] as const) {
      requireRank('attention', n, t, 3);
      requireDType('attention', n, t, ['f32', 'bf16']);
    }
    requireSameDType('attention', 'q and k', q, k);
    requireSameDType('attention', 'q and v', q, v);
    const [b, tq, d] = q.shape as [number, number, number];
    if (k.shape[0] !== b || k.shape[2] !== d || v.shape[0] !== b || v.shape[1] !== k.shape[1] || v.shape[2] !== d) {
      throw shapeMismatch('attention', 'k and v must be [B, Tk, D] with q [B, Tq, D]', `[${b}, Tk, ${d}]`, `k ${shapeText(k.shape)}, v ${shapeText(v.shape)}`);
    }
    const heads = numberAttr('attention', 'heads', (attrs as Partial<AttentionAttrs>).heads, { integer: true, min: 1 });
    if (d % heads !== 0) throw shapeMismatch('attention', 'heads must divide the width', `a divisor of ${d}`, String(heads));
    if (attrs.scale !== undefined) numberAttr('attention', 'scale', attrs.scale);
    return [
      { shape: q.shape, dtype: q.dtype },
      { shape: [b, heads, tq], dtype: 'f32' },
    ];
  },
  grad(ctx: GradContext): (Value | null)[] {
    const dO = ctx.dy[0];
    if (!dO) return [null, null, null];
    const [q, k, v] = ctx.node.inputs as [Value, Value, Value];
    const [o, lse] = ctx.node.outputs as [Value, Value];
    const gn = ctx.g.add('attention_grad', [q, k, v, o, lse, dO], ctx.node.attrs);
    return gn.outputs.map((d, i) => (ctx.needs[i] ? d : null));
  },
  // q, k, v may be cut straight out of a fused projection, and o written into the concatenation
  // that feeds the fused out-projection: the kernel takes token and batch strides.
  windowInput: (node, input, rowLen) => attentionOperandFits(node, node.inputs[input]!, rowLen),
  windowOutput: (node, output, rowLen) => output === 0 && attentionOperandFits(node, node.outputs[0]!, rowLen),
  lower(ctx: LowerContext, node: Node): void {
    const [o, lse] = node.outputs as [Value, Value];
    const { spec, tq, d, headDim } = sharedSpec(ctx, node);
    ctx.emit('attention_fwd', { ...spec, o: headOperand(ctx, o, tq, d, headDim), lse: ctx.view(lse) });
  },
};

/** attention_grad(q, k, v, o, lse, dO) -> [dq, dk, dv]. */
export const attentionGradOp: OpDef = {
  name: 'attention_grad',
  infer(inputs: readonly TensorType[]): TensorType[] {
    requireArity('attention_grad', inputs, 6);
    return inputs.slice(0, 3).map((t) => ({ shape: t.shape, dtype: t.dtype }));
  },
  // Every operand but lse (dense f32 [B, H, Tq]) takes strides; dq, dk, dv can go straight into
  // the fused projection's gradient.
  windowInput: (node, input, rowLen) => input !== 4 && attentionOperandFits(node, node.inputs[input]!, rowLen),
  windowOutput: (node, output, rowLen) => attentionOperandFits(node, node.outputs[output]!, rowLen),
  lower(ctx: LowerContext, node: Node): void {
    const [, , , o, lse, dO] = node.inputs as Value[] as [Value, Value, Value, Value, Value, Value];
    const [dq, dk, dv] = node.outputs as [Value, Value, Value];
    const { spec, tq, tk, d, headDim } = sharedSpec(ctx, node);
    ctx.emit('attention_bwd', {
      ...spec,
      o: headOperand(ctx, o, tq, d, headDim),
      dO: headOperand(ctx, dO, tq, d, headDim),
      lse: ctx.view(lse),
      dQ: headOperand(ctx, dq, tq, d, headDim),
      dK: headOperand(ctx, dk, tk, d, headDim),
      dV: headOperand(ctx, dv, tk, d, headDim),
    });
  },
};
