/**
 * linear(x, w [, bias] [, residual]): the fused GEMM the fusion pass builds from matmul, bias_add,
 * gelu and a residual add:  y = gelu?(op(x) op(w) + bias) + residual.
 * The bias (and GELU, on the column range [geluBegin, geluEnd)) run in the GEMM epilogue; the
 * residual is C with beta = 1, written in place when the residual dies here (a copy first
 * otherwise). GELU is only fused where its input is not needed later, i.e. not in training graphs,
 * where the backward reads the pre-activation; so fused nodes never need a gradient rule.
 */
import type { Node, Value } from '../ir';
import type { Attrs, LowerContext, OpDef } from '../op-def';
import { numel, shapeText, type TensorType } from '../types';
import { requireArity, requireDType, requireSameDType, requireShape, shapeMismatch, storageOf } from './check';
import { emitCopy } from './emit';
import { gemmDims, gemmSpec, matmulOutDtype } from './matmul';

export interface LinearAttrs {
  transA?: boolean;
  transB?: boolean;
  outDtype?: string;
  hasBias?: boolean;
  hasResidual?: boolean;
  gelu?: 'tanh' | 'erf';
  geluBegin?: number;
  geluEnd?: number;
}

function parts(attrs: LinearAttrs) {
  const bias = attrs.hasBias ? 2 : -1;
  const residual = attrs.hasResidual ? (attrs.hasBias ? 3 : 2) : -1;
  return { bias, residual, count: 2 + (attrs.hasBias ? 1 : 0) + (attrs.hasResidual ? 1 : 0) };
}

export const linearOp: OpDef = {
  name: 'linear',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    const at = attrs as LinearAttrs;
    const p = parts(at);
    requireArity('linear', inputs, p.count);
    const [x, w] = inputs as [TensorType, TensorType];
    requireDType('linear', 'x', x, ['f32', 'bf16']);
    requireSameDType('linear', 'x and w', x, w);
    const d = gemmDims('linear', x.shape, w.shape, !!at.transA, !!at.transB);
    const out: TensorType = { shape: d.outShape, dtype: matmulOutDtype('linear', x, at) };
    if (p.bias >= 0) {
      const b = inputs[p.bias]!;
      requireShape('linear', 'bias', b, [d.n]);
      // The epilogue adds a bias of C's type, or an f32 one (bf16-mixed keeps f32 master biases).
      if (b.dtype !== 'f32') requireSameDType('linear', 'bias and output', out, b);
    }
    if (p.residual >= 0) {
      const r = inputs[p.residual]!;
      if (numel(r.shape) !== numel(out.shape)) {
        throw shapeMismatch('linear', 'residual must match the output', shapeText(out.shape), shapeText(r.shape));
      }
      requireSameDType('linear', 'residual and output', out, r);
    }
    if (at.gelu !== undefined) {
      const b = at.geluBegin ?? 0;
      const e = at.geluEnd ?? d.n;
      if (!(0 <= b && b <= e && e <= d.n)) {
        throw shapeMismatch('linear', 'GELU columns out of range', `0 <= begin <= end <= ${d.n}`, `[${b}, ${e})`);
      }
    }
    return [out];
  },
  inPlace(node: Node) {
    const r = parts(node.attrs as LinearAttrs).residual;
    return r >= 0 ? [[0, r] as const] : [];
  },
  lower(ctx: LowerContext, node: Node): void {
    const at = node.attrs as LinearAttrs;
    const p = parts(at);
    const [x, w] = node.inputs as [Value, Value];
    const y = node.outputs[0]!;
    const d = gemmDims('linear', x.shape, w.shape, !!at.transA, !!at.transB);
    const spec = gemmSpec('linear', ctx, x, w, y, d, !!at.transA, !!at.transB);
    if (p.residual >= 0) {
      if (!ctx.inPlace(node, 0, p.residual)) emitCopy(ctx, spec.cType, numel(y.shape), ctx.view(node.inputs[p.residual]!), ctx.view(y));
      spec.beta = 1;
    }
    if (p.bias >= 0) {
      const bias = node.inputs[p.bias]!;
      spec.bias = ctx.view(bias);
      if (bias.dtype !== y.dtype) spec.biasType = storageOf('linear', 'bias', bias.dtype);
    }
    if (at.gelu !== undefined) {
      spec.geluForm = at.gelu;
      spec.geluBegin = at.geluBegin ?? 0;
      spec.geluEnd = at.geluEnd ?? d.n;
    }
    ctx.emit('gemm', spec);
  },
};
