/**
 * matmul(a, b): C = op(a) @ op(b) on the GEMM kernel. Tensors of rank > 2 are viewed as matrices of
 * their rows: a [..., K] is [M, K] with M the product of the leading dims.
 *   !transA: op(a) = a as [M, K], the output keeps a's leading dims: [..., N]
 *    transA: op(a) = a^T, a [..., M] viewed as [R, M] gives [M, R] (K = R): the output is [M, N]
 *   !transB: op(b) = b as [K, N];  transB: b stored [N, K]
 * The transposed forms are what the gradients need (dW = x^T dy), so one op covers both passes.
 */
import type { Value } from '../ir';
import type { Attrs, GradContext, LowerContext, OpDef } from '../op-def';
import type { Node } from '../ir';
import type { KernelSpec } from '../../kernels/spec';
import { assertDType } from '../../runtime/dtype';
import type { PlanScalar, PlanView } from '../../runtime/plan-format';
import { lastDim, rowsOf, sameShape, shapeText, type Shape, type TensorType } from '../types';
import { requireArity, requireDType, requireSameDType, shapeMismatch, storageOf } from './check';

export interface MatmulAttrs {
  transA?: boolean;
  transB?: boolean;
  /** The output's dtype (f32 | bf16); the inputs' by default. */
  outDtype?: string;
}

/** The GEMM dimensions of a matmul of these operand shapes, or a typed error. */
export function gemmDims(op: string, a: Shape, b: Shape, transA: boolean, transB: boolean) {
  const ra = rowsOf(a);
  const ca = lastDim(a);
  const rb = rowsOf(b);
  const cb = lastDim(b);
  const m = transA ? ca : ra;
  const k = transA ? ra : ca;
  const kb = transB ? cb : rb;
  const n = transB ? rb : cb;
  if (a.length < 2 || b.length < 2) {
    throw shapeMismatch(op, 'operands must have rank >= 2', 'rank >= 2', `${shapeText(a)} and ${shapeText(b)}`);
  }
  if (k !== kb) {
    throw shapeMismatch(
      op,
      `inner dimensions differ (a${transA ? '^T' : ''} ${shapeText(a)}, b${transB ? '^T' : ''} ${shapeText(b)})`,
      `K = ${k} on both sides`,
      `${k} and ${kb}`,
    );
  }
  const outShape: number[] = transA ? [m, n] : [...a.slice(0, -1), n];
  return { m, n, k, lda: ca, ldb: cb, outShape };
}

export function matmulOutDtype(op: string, a: TensorType, attrs: { outDtype?: string }) {
  const d = attrs.outDtype === undefined ? a.dtype : assertDType(attrs.outDtype, `${op} outDtype`);
  requireDType(op, 'output', { shape: [], dtype: d }, ['f32', 'bf16']);
  return d;
}

/** A gradient of `target`'s shape: reshaped when the 2-D result has other leading dims. */
export function shapedLike(ctx: GradContext, v: Value, target: Value): Value {
  return sameShape(v.shape, target.shape) ? v : ctx.g.apply('reshape', [v], { shape: target.shape });
}

export const matmulOp: OpDef = {
  name: 'matmul',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    requireArity('matmul', inputs, 2);
    const [a, b] = inputs as [TensorType, TensorType];
    const at = attrs as MatmulAttrs;
    requireDType('matmul', 'a', a, ['f32', 'bf16']);
    requireSameDType('matmul', 'a and b', a, b);
    const d = gemmDims('matmul', a.shape, b.shape, !!at.transA, !!at.transB);
    return [{ shape: d.outShape, dtype: matmulOutDtype('matmul', a, at) }];
  },
  grad(ctx: GradContext): (Value | null)[] {
    const { g, node } = ctx;
    const dy = ctx.dy[0];
    if (!dy) return [null, null];
    const [a, b] = node.inputs as [Value, Value];
    const tA = !!(node.attrs as MatmulAttrs).transA;
    const tB = !!(node.attrs as MatmulAttrs).transB;
    const mm = (x: Value, y: Value, transA: boolean, transB: boolean, like: Value) =>
      shapedLike(ctx, g.apply('matmul', [x, y], { transA, transB, outDtype: like.dtype }), like);
    // y = op(a) op(b): the four cases written out (see the file comment for the layouts).
    let da: Value | null = null;
    let db: Value | null = null;
    if (ctx.needs[0]) {
      da = !tA ? mm(dy, b, false, !tB, a) : tB ? mm(b, dy, true, true, a) : mm(b, dy, false, true, a);
    }
    if (ctx.needs[1]) {
      db = !tB ? (tA ? mm(a, dy, false, false, b) : mm(a, dy, true, false, b)) : tA ? mm(dy, a, true, true, b) : mm(dy, a, true, false, b);
    }
    return [da, db];
  },
  lower(ctx: LowerContext, node: Node): void {
    const [a, b] = node.inputs as [Value, Value];
    const y = node.outputs[0]!;
    const at = node.attrs as MatmulAttrs;
    const d = gemmDims('matmul', a.shape, b.shape, !!at.transA, !!at.transB);
    ctx.emit('gemm', gemmSpec('matmul', ctx, a, b, y, d, !!at.transA, !!at.transB));
  },
};

type GemmKernelSpec = KernelSpec<'gemm', PlanView, PlanScalar>;
/** A gemm launch spec that a lowering may still add to (the fused parts of linear). */
export type GemmSpec = { -readonly [K in keyof GemmKernelSpec]: GemmKernelSpec[K] };

/** The gemm launch spec of C = op(a) op(b) (beta 0, no epilogue); callers add fused parts. */
export function gemmSpec(
  op: string,
  ctx: LowerContext,
  a: Value,
  b: Value,
  c: Value,
  d: { m: number; n: number; k: number; lda: number; ldb: number },
  transA: boolean,
  transB: boolean,
): GemmSpec {
  return {
    abType: storageOf(op, 'a', a.dtype),
    cType: storageOf(op, 'output', c.dtype),
    transA,
    transB,
    m: d.m,
    n: d.n,
    k: d.k,
    batch: 1,
    alpha: 1,
    beta: 0,
    a: ctx.view(a),
    lda: d.lda,
    strideA: 0,
    b: ctx.view(b),
    ldb: d.ldb,
    strideB: 0,
    c: ctx.view(c),
    ldc: d.n,
    strideC: 0,
  };
}
