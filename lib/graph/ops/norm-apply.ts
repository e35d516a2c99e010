/**
 * norm_apply(x [..., d], stats [rows, 2] f32, scale [d] [, bias [d]]) -> y like x: LayerNorm
 * (center) or RMSNorm of x's d columns, rows of `total` columns whose global moments are `stats`
 * (row_moments all-reduced over the axis that splits the columns; lib/kernels/norm_apply.ts). With
 * total == d and stats = row_moments(x) it is layer_norm. passes/partition.ts writes it for a norm of
 * a feature-split stream, so the normalized slices (not the raw input) are what the next matmul
 * gathers, and the ring pass can fuse that gather into the matmul.
 *
 * The gradient treats stats as an input of its own: norm_apply_grad gives the direct dx (stats held
 * fixed), this slice's part of dstats and the partial dscale/dbias. Autodiff sums dstats over the
 * axis (the adjoint of the statistics' pvary), and row_moments_grad turns it into the rest of dx.
 */
import type { Node, Value } from '../ir';
import type { Attrs, GradContext, LowerContext, OpDef } from '../op-def';
import { lastDim, rowsOf, type TensorType } from '../types';
import { numberAttr, requireArity, requireDType, requireShape, shapeMismatch, storageOf } from './check';

export interface NormApplyAttrs {
  /** Columns of the whole rows (the norm's global width). */
  total: number;
  center?: boolean;
  eps?: number;
  hasBias?: boolean;
}

const centerOf = (a: Attrs) => (a as unknown as NormApplyAttrs).center !== false;

function checkTotal(op: string, attrs: Attrs, d: number): number {
  const total = attrs.total as number;
  if (!Number.isInteger(total) || total < d) throw shapeMismatch(op, 'total', `an integer >= ${d} (the local columns)`, String(total));
  return total;
}

export const normApplyOp: OpDef = {
  name: 'norm_apply',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    const at = attrs as unknown as NormApplyAttrs;
    requireArity('norm_apply', inputs, at.hasBias ? 4 : 3);
    const [x, stats, scale] = inputs as [TensorType, TensorType, TensorType];
    requireDType('norm_apply', 'x', x, ['f32', 'bf16']);
    requireDType('norm_apply', 'stats', stats, ['f32']);
    requireShape('norm_apply', 'stats', stats, [rowsOf(x.shape), 2]);
    requireDType('norm_apply', 'scale', scale, ['f32', 'bf16']);
    requireShape('norm_apply', 'scale', scale, [lastDim(x.shape)]);
    if (at.hasBias) {
      requireShape('norm_apply', 'bias', inputs[3]!, [lastDim(x.shape)]);
      requireDType('norm_apply', 'bias', inputs[3]!, [scale.dtype]);
    }
    checkTotal('norm_apply', attrs, lastDim(x.shape));
    numberAttr('norm_apply', 'eps', at.eps, { min: Number.MIN_VALUE, fallback: 1e-6 });
    return [{ shape: x.shape, dtype: x.dtype }];
  },
  cheap: true,
  grad(ctx: GradContext): (Value | null)[] {
    const dy = ctx.dy[0];
    const { node, g } = ctx;
    if (!dy) return node.inputs.map(() => null);
    const at = node.attrs as unknown as NormApplyAttrs;
    const [x, stats, scale] = node.inputs as [Value, Value, Value];
    const gn = g.add('norm_apply_grad', [x, stats, scale, dy], { total: at.total, center: centerOf(node.attrs), eps: at.eps ?? 1e-6, hasBias: !!at.hasBias });
    const [dx, dstats, dscale, dbias] = gn.outputs as [Value, Value, Value, Value | undefined];
    // The kernel's parameter gradients are f32; cast when the parameter is stored otherwise.
    const asParam = (d: Value, p: Value) => (d.dtype === p.dtype ? d : g.apply('cast', [d], { dtype: p.dtype }));
    return [
      ctx.needs[0] ? dx : null,
      ctx.needs[1] ? dstats : null,
      ctx.needs[2] ? asParam(dscale, scale) : null,
      ...(at.hasBias ? [ctx.needs[3] ? asParam(dbias!, node.inputs[3]!) : null] : []),
    ];
  },
  lower(ctx: LowerContext, node: Node): void {
    const at = node.attrs as unknown as NormApplyAttrs;
    const [x, stats, scale] = node.inputs as [Value, Value, Value];
    ctx.emit('norm_apply', {
      dtype: storageOf('norm_apply', 'x', x.dtype),
      paramType: storageOf('norm_apply', 'scale', scale.dtype),
      rows: rowsOf(x.shape),
      dim: lastDim(x.shape),
      total: at.total,
      eps: at.eps ?? 1e-6,
      center: centerOf(node.attrs),
      x: ctx.view(x),
      stats: ctx.view(stats),
      scale: ctx.view(scale),
      ...(at.hasBias ? { bias: ctx.view(node.inputs[3]!) } : {}),
      y: ctx.view(node.outputs[0]!),
    });
  },
};

/**
 * norm_apply_grad(x, stats, scale, dy) -> [dx (direct part), dstats f32 [rows, 2] (this slice's
 * part), dscale f32 [d] (, dbias f32 [d])].
 */
export const normApplyGradOp: OpDef = {
  name: 'norm_apply_grad',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    requireArity('norm_apply_grad', inputs, 4);
    const [x, stats, scale, dy] = inputs as [TensorType, TensorType, TensorType, TensorType];
    requireDType('norm_apply_grad', 'x', x, ['f32', 'bf16']);
    requireShape('norm_apply_grad', 'stats', stats, [rowsOf(x.shape), 2]);
    requireShape('norm_apply_grad', 'scale', scale, [lastDim(x.shape)]);
    requireShape('norm_apply_grad', 'dy', dy, x.shape);
    requireDType('norm_apply_grad', 'dy', dy, [x.dtype]);
    const d = lastDim(x.shape);
    checkTotal('norm_apply_grad', attrs, d);
    const out: TensorType[] = [
      { shape: x.shape, dtype: x.dtype },
      { shape: [rowsOf(x.shape), 2], dtype: 'f32' },
      { shape: [d], dtype: 'f32' },
    ];
    if ((attrs as unknown as NormApplyAttrs).hasBias) out.push({ shape: [d], dtype: 'f32' });
    return out;
  },
  lower(ctx: LowerContext, node: Node): void {
    const at = node.attrs as unknown as NormApplyAttrs;
    const [x, stats, scale, dy] = node.inputs as [Value, Value, Value, Value];
    const [dx, dstats, dscale, dbias] = node.outputs as [Value, Value, Value, Value | undefined];
    ctx.emit('norm_apply_bwd', {
      dtype: storageOf('norm_apply_grad', 'x', x.dtype),
      paramType: storageOf('norm_apply_grad', 'scale', scale.dtype),
      rows: rowsOf(x.shape),
      dim: lastDim(x.shape),
      total: at.total,
      eps: at.eps ?? 1e-6,
      center: centerOf(node.attrs),
      x: ctx.view(x),
      stats: ctx.view(stats),
      scale: ctx.view(scale),
      dy: ctx.view(dy),
      dx: ctx.view(dx),
      dstats: ctx.view(dstats),
      dscale: ctx.view(dscale),
      ...(dbias ? { dbias: ctx.view(dbias) } : {}),
    });
  },
};
