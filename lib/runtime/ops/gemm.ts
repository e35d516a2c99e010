import { Vit22bError } from '../errors';
import type { NativeGemmSpec } from '../native-types';
import { DeviceTensor } from '../tensor';
import { count, flag as flagOf, requireTensor, scalar as scalarOf, shapeError, shapeText, type TensorOf } from './check';
import type { GeluForm } from './gelu';

function checkTensor(t: unknown, name: string): TensorOf<'f32' | 'bf16'> {
  const tensor = requireTensor(t, 'gemm', name, ['f32', 'bf16']);
  if (tensor.shape.length !== 2 && tensor.shape.length !== 3) {
    throw shapeError(`gemm ${name} must be a matrix or a batch of matrices`, '[rows, cols] or [batch, rows, cols]', shapeText(tensor.shape));
  }
  return tensor;
}

const flag = (value: unknown, name: string): boolean => flagOf(value, 'gemm', name);
const scalar = (value: unknown, name: string, fallback: number): number => scalarOf(value, 'gemm', name, fallback);

export interface GemmOptions {
  /** Use A transposed: `a` is stored [batch?, k, m] instead of [batch?, m, k]. */
  transA?: boolean;
  /** Use B transposed: `b` is stored [batch?, n, k] instead of [batch?, k, n]. */
  transB?: boolean;
  /** Default 1. */
  alpha?: number;
  /** Default 0; with 0, C's previous contents are never read (NaNs in it do not leak in). */
  beta?: number;
  /**
   * [n], the dtype of C or f32 (an f32 bias with a bf16 C, bf16-mixed training's master biases, is
   * added in f32 before C is rounded once), added to every row after alpha/beta.
   */
  bias?: DeviceTensor;
  /**
   * GELU after the bias, on C's columns [begin, end) only (default all): the fused QKV + MLP-in
   * projection, whose MLP part alone goes through GELU. Applied in f32 before C is rounded.
   */
  gelu?: { form?: GeluForm; columns?: readonly [number, number] };
}

/**
 * Checks the operands of C = alpha * op(A) @ op(B) + beta * C (+ bias) on dense tensors and
 * builds the native call. C is [m, n] or [batch, m, n]; a 2-D A or B with a 3-D C is shared by
 * every batch (stride 0), a 3-D one must have C's batch.
 */
export function gemmSpec(aIn: DeviceTensor, bIn: DeviceTensor, cIn: DeviceTensor, options: GemmOptions = {}): NativeGemmSpec {
  const a = checkTensor(aIn, 'A');
  const b = checkTensor(bIn, 'B');
  const c = checkTensor(cIn, 'C');
  if (a.dtype !== b.dtype) {
    throw new Vit22bError('ERR_DTYPE_MISMATCH', 'gemm A and B must have the same dtype', { expected: a.dtype, received: b.dtype });
  }
  const transA = flag(options.transA, 'transA');
  const transB = flag(options.transB, 'transB');
  const alpha = scalar(options.alpha, 'alpha', 1);
  const beta = scalar(options.beta, 'beta', 0);

  const batched = c.shape.length === 3;
  const batch = batched ? c.shape[0]! : 1;
  const [m, n] = c.shape.slice(-2) as [number, number];
  for (const [t, name] of [[a, 'A'], [b, 'B']] as const) {
    if (t.shape.length === 3 && (!batched || t.shape[0] !== batch)) {
      throw shapeError(
        `gemm ${name} has a batch dimension that C does not match`,
        batched ? `[${batch}, rows, cols] or [rows, cols]` : '[rows, cols] (C has no batch)',
        shapeText(t.shape),
      );
    }
  }
  const [aRows, aCols] = a.shape.slice(-2) as [number, number];
  const [bRows, bCols] = b.shape.slice(-2) as [number, number];
  const k = transA ? aRows : aCols;
  const aM = transA ? aCols : aRows;
  if (aM !== m) {
    throw shapeError(`gemm op(A) must have C's ${m} rows`, transA ? `[${k}, ${m}] (transA)` : `[${m}, ${k}]`, shapeText(a.shape));
  }
  const expectB = transB ? `[${n}, ${k}] (transB)` : `[${k}, ${n}]`;
  if ((transB ? bCols : bRows) !== k || (transB ? bRows : bCols) !== n) {
    throw shapeError(`gemm op(B) must be [k = ${k}, n = ${n}]`, expectB, shapeText(b.shape));
  }
  const spec: NativeGemmSpec = {
    abType: a.dtype,
    cType: c.dtype,
    transA,
    transB,
    m,
    n,
    k,
    batch,
    alpha,
    beta,
    a: a.buffer,
    lda: aCols,
    strideA: a.shape.length === 3 ? aRows * aCols : 0,
    b: b.buffer,
    ldb: bCols,
    strideB: b.shape.length === 3 ? bRows * bCols : 0,
    c: c.buffer,
    ldc: n,
    strideC: m * n,
  };
  if (options.bias !== undefined) {
    const bias = options.bias;
    if (!(bias instanceof DeviceTensor)) {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', 'gemm option bias must be a DeviceTensor', {
        expected: 'DeviceTensor',
        received: typeof bias,
      });
    }
    if (bias.dtype !== c.dtype && bias.dtype !== 'f32') {
      throw new Vit22bError('ERR_DTYPE_MISMATCH', 'gemm bias must be f32 or have the dtype of C', { expected: c.dtype === 'f32' ? 'f32' : `f32 | ${c.dtype}`, received: bias.dtype });
    }
    if (bias.shape.length !== 1 || bias.shape[0] !== n) {
      throw shapeError('gemm bias must have one value per column of C', `[${n}]`, shapeText(bias.shape));
    }
    spec.bias = bias.buffer;
    spec.biasType = bias.dtype as 'f32' | 'bf16';
  }
  if (options.gelu !== undefined) Object.assign(spec, geluEpilogue(options.gelu, n));
  return spec;
}

function geluEpilogue(gelu: unknown, n: number): Pick<NativeGemmSpec, 'geluForm' | 'geluBegin' | 'geluEnd'> {
  if (typeof gelu !== 'object' || gelu === null) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', 'gemm option gelu must be an object', { expected: '{ form?, columns? }', received: gelu === null ? 'null' : typeof gelu });
  }
  const { form = 'tanh', columns } = gelu as { form?: unknown; columns?: unknown };
  if (form !== 'tanh' && form !== 'erf') {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', "gemm option gelu.form must be 'tanh' or 'erf'", { expected: "'tanh' | 'erf'", received: String(form) });
  }
  if (columns === undefined) return { geluForm: form, geluBegin: 0, geluEnd: n };
  if (!Array.isArray(columns) || columns.length !== 2) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', 'gemm option gelu.columns must be [begin, end]', { expected: '[begin, end]', received: JSON.stringify(columns) });
  }
  const begin = count(columns[0], 'gemm', 'gelu.columns[0]');
  const end = count(columns[1], 'gemm', 'gelu.columns[1]');
  if (begin > end || end > n) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', 'gemm option gelu.columns is out of bounds', { expected: `0 <= begin <= end <= ${n}`, received: `[${begin}, ${end})` });
  }
  return { geluForm: form, geluBegin: begin, geluEnd: end };
}
