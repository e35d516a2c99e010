/**
 * gelu(x [, bias]): GELU on every element (tanh form by default, the ViT-22B choice; 'erf' for the
 * exact one), of x + bias when the fusion pass folded a bias_add in (attrs.hasBias). The gradient
 * reads the pre-activation x, so in training graphs x stays alive (or is recomputed under
 * selective rematerialization) and GELU is not folded into a GEMM epilogue. Every operand may be a
 * column window (passes/windows.ts): the MLP input read straight out of the fused projection.
 */
import type { PlanView } from '../../runtime/plan-format';
import type { Node, Value } from '../ir';
import type { Attrs, GradContext, LowerContext, OpDef } from '../op-def';
import { lastDim, rowsOf, type TensorType } from '../types';
import { requireArity, requireDType, requireShape, storageOf } from './check';
import { rowsFit, rowsOf as windowRows } from './window-layout';
import { Vit22bError } from '../../runtime/errors';

export type GeluForm = 'tanh' | 'erf';

export function geluForm(attrs: Attrs): GeluForm {
  const f = attrs.form ?? 'tanh';
  if (f !== 'tanh' && f !== 'erf') {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', "gelu form must be 'tanh' or 'erf'", { expected: 'tanh | erf', received: String(f) });
  }
  return f;
}

function geluSpec(op: string, x: Value, form: GeluForm) {
  const cols = lastDim(x.shape);
  return { dtype: storageOf(op, 'x', x.dtype), form, rows: rowsOf(x.shape), cols, colBegin: 0, colEnd: cols };
}

/** A [rows, cols] operand: its memory and, when in a window, its row stride (the spec's `<name>Stride`). */
function operand(ctx: LowerContext, v: Value): { view: PlanView; stride?: number } {
  const cols = lastDim(v.shape);
  const r = windowRows(ctx, v, cols);
  return r.stride !== cols ? { view: r.view, stride: r.stride } : { view: r.view };
}

/** Every operand may be a window of whole rows: the MLP input cut out of the fused projection. */
const fits = (v: Value, rowLen: number) => rowsFit(rowLen, lastDim(v.shape));

/** The optional bias [cols] (the fusion pass folds a bias_add into GELU): f32 or x's dtype. */
function checkBias(op: string, x: TensorType, bias: TensorType | undefined): void {
  if (!bias) return;
  requireDType(op, 'bias', bias, ['f32', x.dtype]);
  requireShape(op, 'bias', bias, [lastDim(x.shape)]);
}

/** The bias operand of a GELU kernel, when the node has one. */
function biasSpec(op: string, ctx: LowerContext, bias: Value | undefined) {
  return bias ? { bias: ctx.view(bias), biasType: storageOf(op, 'bias', bias.dtype) } : {};
}

export const geluOp: OpDef = {
  name: 'gelu',
  /** gelu(x [, bias]): gelu(x + bias) with the bias a fusion folded in (attrs.hasBias). */
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    requireArity('gelu', inputs, attrs.hasBias ? 2 : 1);
    requireDType('gelu', 'x', inputs[0]!, ['f32', 'bf16']);
    checkBias('gelu', inputs[0]!, inputs[1]);
    geluForm(attrs);
    return [{ shape: inputs[0]!.shape, dtype: inputs[0]!.dtype }];
  },
  grad(ctx: GradContext): (Value | null)[] {
    const dy = ctx.dy[0];
    const [x, bias] = ctx.node.inputs as [Value, Value | undefined];
    const form = geluForm(ctx.node.attrs);
    if (!bias) return [dy && ctx.needs[0] ? ctx.g.apply('gelu_grad', [x, dy], { form }) : null];
    if (!dy) return [null, null];
    // gelu(x + b): the same dx serves x and, summed over rows, b.
    const dx = ctx.g.apply('gelu_grad', [x, dy, bias], { form, hasBias: true });
    return [ctx.needs[0] ? dx : null, ctx.needs[1] ? ctx.g.apply('sum_to', [dx], { shape: bias.shape, dtype: bias.dtype }) : null];
  },
  inPlace: [[0, 0]],
  cheap: true,
  windowInput: (node, input, rowLen) => input === 0 && fits(node.inputs[0]!, rowLen),
  windowOutput: (node, _output, rowLen) => fits(node.outputs[0]!, rowLen),
  lower(ctx: LowerContext, node: Node): void {
    const [x, bias] = node.inputs as [Value, Value | undefined];
    const spec = geluSpec('gelu', x, geluForm(node.attrs));
    const [xo, yo] = [operand(ctx, x), operand(ctx, node.outputs[0]!)];
    ctx.emit('gelu_fwd', {
      ...spec,
      x: xo.view,
      ...(xo.stride !== undefined ? { xStride: xo.stride } : {}),
      y: yo.view,
      ...(yo.stride !== undefined ? { yStride: yo.stride } : {}),
      ...biasSpec('gelu', ctx, bias),
    });
  },
};

/** gelu_grad(x, dy [, bias]): dx = dy * gelu'(x [+ bias]); in place on dy when dy dies here. */
export const geluGradOp: OpDef = {
  name: 'gelu_grad',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    requireArity('gelu_grad', inputs, attrs.hasBias ? 3 : 2);
    requireDType('gelu_grad', 'x', inputs[0]!, ['f32', 'bf16']);
    checkBias('gelu_grad', inputs[0]!, inputs[2]);
    geluForm(attrs);
    return [{ shape: inputs[0]!.shape, dtype: inputs[0]!.dtype }];
  },
  inPlace: [[0, 1]],
  cheap: true,
  windowInput: (node, input, rowLen) => input < 2 && fits(node.inputs[input]!, rowLen),
  windowOutput: (node, _output, rowLen) => fits(node.outputs[0]!, rowLen),
  lower(ctx: LowerContext, node: Node): void {
    const [x, dy, bias] = node.inputs as [Value, Value, Value | undefined];
    const spec = geluSpec('gelu_grad', x, geluForm(node.attrs));
    const [xo, dyo, dxo] = [operand(ctx, x), operand(ctx, dy), operand(ctx, node.outputs[0]!)];
    ctx.emit('gelu_bwd', {
      ...spec,
      x: xo.view,
      ...(xo.stride !== undefined ? { xStride: xo.stride } : {}),
      dy: dyo.view,
      ...(dyo.stride !== undefined ? { dyStride: dyo.stride } : {}),
      dx: dxo.view,
      ...(dxo.stride !== undefined ? { dxStride: dxo.stride } : {}),
      ...biasSpec('gelu_grad', ctx, bias),
    });
  },
};
