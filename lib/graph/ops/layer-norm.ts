/**
 * layer_norm(x [..., D], scale [D] [, bias [D]]): LayerNorm (center) or RMSNorm (!center, the
 * ViT-22B norms, no bias). Outputs [y, mean [rows] f32, rstd [rows] f32]: the statistics are saved
 * for the fused backward and skipped by the kernel when nothing reads them (inference).
 * QK-normalization is the same op on q [B, T, H, Dh] viewed as rows of Dh.
 */
import type { Node, Value } from '../ir';
import type { Attrs, GradContext, LowerContext, OpDef } from '../op-def';
import { lastDim, rowsOf, type TensorType } from '../types';
import { numberAttr, requireArity, requireDType, requireShape, storageOf } from './check';
import { groupedRowsOf, groupsFit } from './window-layout';

/** A [rows, dim] operand as the kernel takes it: its memory, and its RowLayout (`<name>Layout`) when in a window. */
const rowsOperand = (ctx: LowerContext, v: Value) => groupedRowsOf(ctx, v, lastDim(v.shape));

/** x and y (dx, dy) may be windows whose rows hold whole norm rows: q and k of the fused projection. */
const fitsRows = (v: Value, rowLen: number) => groupsFit(rowLen, lastDim(v.shape));

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
  windowInput: (node, input, rowLen) => input === 0 && fitsRows(node.inputs[0]!, rowLen),
  windowOutput: (node, output, rowLen) => output === 0 && fitsRows(node.outputs[0]!, rowLen),
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
    const [xr, yr] = [rowsOperand(ctx, x), rowsOperand(ctx, y)];
    ctx.emit('layer_norm_fwd', {
      dtype: storageOf('layer_norm', 'x', x.dtype),
      paramType: storageOf('layer_norm', 'scale', scale.dtype),
      rows: rowsOf(x.shape),
      dim: lastDim(x.shape),
      eps: at.eps ?? 1e-6,
      center,
      x: xr.view,
      ...(xr.layout ? { xLayout: xr.layout } : {}),
      scale: ctx.view(scale),
      ...(at.hasBias ? { bias: ctx.view(node.inputs[2]!) } : {}),
      y: yr.view,
      ...(yr.layout ? { yLayout: yr.layout } : {}),
      ...(center && ctx.used(mean) ? { mean: ctx.view(mean) } : {}),
      ...(ctx.used(rstd) ? { rstd: ctx.view(rstd) } : {}),
    });
  },
};

/** Where dy is among layer_norm_grad's inputs; dresidual, when fused, follows it. */
const dyIndex = (attrs: Attrs) => (centerOf(attrs) ? 4 : 3);

/**
 * layer_norm_grad(x, scale, [mean,] rstd, dy [, dresidual]) -> [dx, dscale f32 [D] (, dbias f32 [D])].
 * With dresidual (attrs.hasResidual, fused by passes/fusion.ts) dx = dresidual + the norm's input
 * gradient, in place on dresidual when it dies here.
 */
export const layerNormGradOp: OpDef = {
  name: 'layer_norm_grad',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    const center = centerOf(attrs);
    requireArity('layer_norm_grad', inputs, (center ? 5 : 4) + (attrs.hasResidual ? 1 : 0));
    if (attrs.hasResidual) {
      requireDType('layer_norm_grad', 'dresidual', inputs[dyIndex(attrs) + 1]!, [inputs[0]!.dtype]);
      requireShape('layer_norm_grad', 'dresidual', inputs[dyIndex(attrs) + 1]!, inputs[0]!.shape);
    }
    const x = inputs[0]!;
    const d = lastDim(x.shape);
    const out: TensorType[] = [
      { shape: x.shape, dtype: x.dtype },
      { shape: [d], dtype: 'f32' },
    ];
    if ((attrs as LayerNormAttrs).hasBias) out.push({ shape: [d], dtype: 'f32' });
    return out;
  },
  // x, dy and dx may be windows (x: q or k of the fused projection, dx: their place in its gradient).
  windowInput: (node, input, rowLen) => (input === 0 || input === dyIndex(node.attrs)) && fitsRows(node.inputs[input]!, rowLen),
  inPlace: (node: Node) => (node.attrs.hasResidual ? [[0, dyIndex(node.attrs) + 1] as const] : []),
  windowOutput: (node, output, rowLen) => output === 0 && fitsRows(node.outputs[0]!, rowLen),
  lower(ctx: LowerContext, node: Node): void {
    const center = centerOf(node.attrs);
    const [x, scale] = node.inputs as [Value, Value];
    const mean = center ? node.inputs[2]! : undefined;
    const rstd = node.inputs[center ? 3 : 2]!;
    const dy = node.inputs[dyIndex(node.attrs)]!;
    const dresidual = node.attrs.hasResidual ? node.inputs[dyIndex(node.attrs) + 1]! : undefined;
    const [dx, dscale, dbias] = node.outputs as [Value, Value, Value | undefined];
    const [xr, dyr, dxr] = [rowsOperand(ctx, x), rowsOperand(ctx, dy), rowsOperand(ctx, dx)];
    ctx.emit('layer_norm_bwd', {
      dtype: storageOf('layer_norm_grad', 'x', x.dtype),
      paramType: storageOf('layer_norm_grad', 'scale', scale.dtype),
      rows: rowsOf(x.shape),
      dim: lastDim(x.shape),
      center,
      x: xr.view,
      ...(xr.layout ? { xLayout: xr.layout } : {}),
      scale: ctx.view(scale),
      ...(mean ? { mean: ctx.view(mean) } : {}),
      rstd: ctx.view(rstd),
      dy: dyr.view,
      ...(dyr.layout ? { dyLayout: dyr.layout } : {}),
      dx: dxr.view,
      ...(dxr.layout ? { dxLayout: dxr.layout } : {}),
      // In place, dresidual's memory is dx's: the kernel reads each element before writing it.
      ...(dresidual ? { dresidual: ctx.view(dresidual) } : {}),
      dscale: ctx.view(dscale),
      ...(dbias ? { dbias: ctx.view(dbias) } : {}),
    });
  },
};
