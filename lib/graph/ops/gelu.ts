/**
 * gelu(x): GELU on every element (tanh form by default, the ViT-22B choice; 'erf' for the exact
 * one). The gradient reads the pre-activation x, so in training graphs x stays alive (or is
 * recomputed under selective rematerialization) and GELU is not folded into a GEMM epilogue.
 */
import type { Node, Value } from '../ir';
import type { Attrs, GradContext, LowerContext, OpDef } from '../op-def';
import { lastDim, rowsOf, type TensorType } from '../types';
import { requireArity, requireDType } from './check';
import { Vit22bError } from '../../runtime/errors';

export type GeluForm = 'tanh' | 'erf';

export function geluForm(attrs: Attrs): GeluForm {
  const f = attrs.form ?? 'tanh';
  if (f !== 'tanh' && f !== 'erf') {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', "gelu form must be 'tanh' or 'erf'", { expected: 'tanh | erf', received: String(f) });
  }
  return f;
}

function geluSpec(x: Value, form: GeluForm) {
  const cols = lastDim(x.shape);
  return { dtype: x.dtype, form, rows: rowsOf(x.shape), cols, colBegin: 0, colEnd: cols };
}

export const geluOp: OpDef = {
  name: 'gelu',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    requireArity('gelu', inputs, 1);
    requireDType('gelu', 'x', inputs[0]!, ['f32', 'bf16']);
    geluForm(attrs);
    return [{ shape: inputs[0]!.shape, dtype: inputs[0]!.dtype }];
  },
  grad(ctx: GradContext): (Value | null)[] {
    const dy = ctx.dy[0];
    if (!dy || !ctx.needs[0]) return [null];
    return [ctx.g.apply('gelu_grad', [ctx.node.inputs[0]!, dy], { form: geluForm(ctx.node.attrs) })];
  },
  inPlace: [[0, 0]],
  cheap: true,
  lower(ctx: LowerContext, node: Node): void {
    const x = node.inputs[0] as Value;
    ctx.emit('gelu_fwd', { ...geluSpec(x, geluForm(node.attrs)), x: ctx.view(x), y: ctx.view(node.outputs[0]!) });
  },
};

/** gelu_grad(x, dy): dx = dy * gelu'(x); in place on dy when dy dies here. */
export const geluGradOp: OpDef = {
  name: 'gelu_grad',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    requireArity('gelu_grad', inputs, 2);
    requireDType('gelu_grad', 'x', inputs[0]!, ['f32', 'bf16']);
    geluForm(attrs);
    return [{ shape: inputs[0]!.shape, dtype: inputs[0]!.dtype }];
  },
  inPlace: [[0, 1]],
  cheap: true,
  lower(ctx: LowerContext, node: Node): void {
    const [x, dy] = node.inputs as [Value, Value];
    ctx.emit('gelu_bwd', { ...geluSpec(x, geluForm(node.attrs)), x: ctx.view(x), dy: ctx.view(dy), dx: ctx.view(node.outputs[0]!) });
  },
};
