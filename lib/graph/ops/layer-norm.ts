/**
 * layer_norm(x [..., D], scale [D] [, bias [D]]): LayerNorm (center) or RMSNorm (!center, the
 * ViT-22B norms, no bias). Outputs [y, mean [rows] f32, rstd [rows] f32]: the statistics are saved
 * for the fused backward and skipped by the kernel when nothing reads them (inference).
 * QK-normalization is the same op on q [B, T, H, Dh] viewed as rows of Dh.
 */
import type { Node, Value } from '../ir';
import type { Attrs, GradContext, LowerContext, OpDef } from '../op-def';
import { lastDim, rowsOf, type TensorType } from '../types';
import { numberAttr, requireArity, requireDType, requireShape } from './check';

export interface LayerNormAttrs {
  center?: boolean;
  eps?: number;
  hasBias?: boolean;
}

const centerOf = (a: Attrs) => (a as LayerNormAttrs).center !== false;

export const layerNormOp: OpDef = {
  name: 'layer_norm',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    const at = attrs as LayerNormAttrs;
    requireArity('layer_norm', inputs, at.hasBias ? 3 : 2);
    const [x, scale] = inputs as [TensorType, TensorType];
    requireDType('layer_norm', 'x', x, ['f32', 'bf16']);
    requireDType('layer_norm', 'scale', scale, ['f32', 'bf16']);
    requireShape('layer_norm', 'scale', scale, [lastDim(x.shape)]);
    if (at.hasBias) {
      requireShape('layer_norm', 'bias', inputs[2]!, [lastDim(x.shape)]);
      requireDType('layer_norm', 'bias', inputs[2]!, [scale.dtype]);
    }
    numberAttr('layer_norm', 'eps', at.eps, { min: Number.MIN_VALUE, fallback: 1e-6 });
    const rows = rowsOf(x.shape);
    return [
      { shape: x.shape, dtype: x.dtype },
      { shape: [rows], dtype: 'f32' },
      { shape: [rows], dtype: 'f32' },
    ];
  },
  optionalOutputs: [1, 2],
  cheap: true,
  grad(ctx: GradContext): (Value | null)[] {
    const dy = ctx.dy[0];
    const { node, g } = ctx;
    if (!dy) return node.inputs.map(() => null);
    const [x, scale] = node.inputs as [Value, Value];
    const [, mean, rstd] = node.outputs as [Value, Value, Value];
    const center = centerOf(node.attrs);
    const hasBias = !!(node.attrs as LayerNormAttrs).hasBias;
    const inputs = center ? [x, scale, mean, rstd, dy] : [x, scale, rstd, dy];
    const gn = g.add('layer_norm_grad', inputs, { center, hasBias });
    const [dx, dscale, dbias] = gn.outputs as [Value, Value, Value | undefined];
    // The kernel's parameter gradients are f32; cast when the parameter is stored otherwise.
    const asParam = (d: Value, p: Value) => (d.dtype === p.dtype ? d : g.apply('cast', [d], { dtype: p.dtype }));
    return [
      ctx.needs[0] ? dx : null,
      ctx.needs[1] ? asParam(dscale, scale) : null,
      ...(hasBias ? [ctx.needs[2] ? asParam(dbias!, node.inputs[2]!) : null] : []),
    ];
  },
  lower(ctx: LowerContext, node: Node): void {
    const at = node.attrs as LayerNormAttrs;
    const [x, scale] = node.inputs as [Value, Value];
    const [y, mean, rstd] = node.outputs as [Value, Value, Value];
    const center = centerOf(node.attrs);
    ctx.emit('layer_norm_fwd', {
      dtype: x.dtype,
      paramType: scale.dtype,
      rows: rowsOf(x.shape),
      dim: lastDim(x.shape),
      eps: at.eps ?? 1e-6,
      center,
      x: ctx.view(x),
      scale: ctx.view(scale),
      ...(at.hasBias ? { bias: ctx.view(node.inputs[2]!) } : {}),
      y: ctx.view(y),
      ...(center && ctx.used(mean) ? { mean: ctx.view(mean) } : {}),
      ...(ctx.used(rstd) ? { rstd: ctx.view(rstd) } : {}),
    });
  },
};

/** layer_norm_grad(x, scale, [mean,] rstd, dy) -> [dx, dscale f32 [D] (, dbias f32 [D])]. */
export const layerNormGradOp: OpDef = {
  name: 'layer_norm_grad',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    const center = centerOf(attrs);
    requireArity('layer_norm_grad', inputs, center ? 5 : 4);
    const x = inputs[0]!;
    const d = lastDim(x.shape);
    const out: TensorType[] = [
      { shape: x.shape, dtype: x.dtype },
      { shape: [d], dtype: 'f32' },
    ];
    if ((attrs as LayerNormAttrs).hasBias) out.push({ shape: [d], dtype: 'f32' });
    return out;
  },
  lower(ctx: LowerContext, node: Node): void {
    const center = centerOf(node.attrs);
    const [x, scale] = node.inputs as [Value, Value];
    const mean = center ? node.inputs[2]! : undefined;
    const rstd = node.inputs[center ? 3 : 2]!;
    const dy = node.inputs[center ? 4 : 3]!;
    const [dx, dscale, dbias] = node.outputs as [Value, Value, Value | undefined];
    ctx.emit('layer_norm_bwd', {
      dtype: x.dtype,
      paramType: scale.dtype,
      rows: rowsOf(x.shape),
      dim: lastDim(x.shape),
      center,
      x: ctx.view(x),
      scale: ctx.view(scale),
      ...(mean ? { mean: ctx.view(mean) } : {}),
      rstd: ctx.view(rstd),
      dy: ctx.view(dy),
      dx: ctx.view(dx),
      dscale: ctx.view(dscale),
      ...(dbias ? { dbias: ctx.view(dbias) } : {}),
    });
  },
};
