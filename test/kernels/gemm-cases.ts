// Shared by the GEMM tests: seeded inputs laid out exactly as a strided-batched GEMM reads them,
// a naive float64 reference, and the error bound each output element must meet.
// mulberry32, the one the case files use: seeded inputs that are never zero and never repeat.
import { rng } from '../cases/case-kit';
import { bf16BitsToF32, f32ToBf16Bits } from '../../lib/runtime/bf16';

export interface GemmCase {
  abType: 'f32' | 'bf16';
  cType: 'f32' | 'bf16';
  transA: boolean;
  transB: boolean;
  m: number;
  n: number;
  k: number;
  batch: number;
  alpha: number;
  beta: number;
  lda: number;
  ldb: number;
  ldc: number;
  strideA: number;
  strideB: number;
  strideC: number;
  bias: boolean;
  /** The bias's dtype (spec field biasType); absent: C's dtype, and the spec leaves it out. */
  biasType?: 'f32' | 'bf16';
  seed: number;
}

/** A dense case: ld = row length, strides = one matrix, and the given overrides. */
export function denseCase(c: Partial<GemmCase> & Pick<GemmCase, 'm' | 'n' | 'k'>): GemmCase {
  const base = { abType: 'f32', cType: 'f32', transA: false, transB: false, batch: 1, alpha: 1, beta: 0, bias: false, seed: 1, ...c } as GemmCase;
  const aCols = base.transA ? base.m : base.k;
  const bCols = base.transB ? base.k : base.n;
  return {
    ...base,
    lda: c.lda ?? aCols,
    ldb: c.ldb ?? bCols,
    ldc: c.ldc ?? base.n,
    strideA: c.strideA ?? aCols * (base.transA ? base.k : base.m),
    strideB: c.strideB ?? bCols * (base.transB ? base.n : base.k),
    strideC: c.strideC ?? base.m * base.n,
  };
}

/** Raw storage of every operand, as uploaded: f32 in a Float32Array, bf16 as bits. */
export interface GemmData {
  a: Float32Array | Uint16Array;
  b: Float32Array | Uint16Array;
  c: Float32Array | Uint16Array;
  bias?: Float32Array | Uint16Array;
}

/** Values in ±[0.1, 1): no zeros, so a skipped or doubled term always shows. */
function nonZero(next: () => number): number {
  const v = 0.1 + 0.9 * next();
  return next() < 0.5 ? -v : v;
}

function storage(type: 'f32' | 'bf16', length: number): Float32Array | Uint16Array {
  return type === 'f32' ? new Float32Array(length) : new Uint16Array(length);
}

function put(arr: Float32Array | Uint16Array, i: number, v: number): void {
  if (arr instanceof Float32Array) arr[i] = v;
  else arr[i] = f32ToBf16Bits(v);
}

export function get(arr: Float32Array | Uint16Array, i: number): number {
  return arr instanceof Float32Array ? arr[i]! : bf16BitsToF32(arr[i]!);
}

interface Layout {
  rows: number;
  cols: number;
  ld: number;
  stride: number;
}

function layouts(c: GemmCase): { a: Layout; b: Layout; c: Layout } {
  return {
    a: { rows: c.transA ? c.k : c.m, cols: c.transA ? c.m : c.k, ld: c.lda, stride: c.strideA },
    b: { rows: c.transB ? c.n : c.k, cols: c.transB ? c.k : c.n, ld: c.ldb, stride: c.strideB },
    c: { rows: c.m, cols: c.n, ld: c.ldc, stride: c.strideC },
  };
}

export function footprint(l: Layout, batch: number): number {
  if (batch === 0 || l.rows === 0 || l.cols === 0) return 0;
  return (batch - 1) * l.stride + (l.rows - 1) * l.ld + l.cols;
}

function inMatrix(l: Layout, batch: number, index: number): boolean {
  for (let b = 0; b < batch; b++) {
    const off = index - b * l.stride;
    if (off >= 0 && off < l.rows * l.ld && off % l.ld < l.cols) return true;
  }
  return false;
}

/** Sentinel for elements of C outside every matrix: they must come back unchanged. */
export const C_PADDING = 12345;

/**
 * Seeded operands. Elements of A and B that the GEMM must not read (padding past a row, gaps
 * between batches) are NaN, so reading one poisons the result. C holds random values, or NaN
 * everywhere when beta == 0 (the BLAS rule says it is not read); its padding holds C_PADDING.
 */
export function makeData(c: GemmCase): GemmData {
  const next = rng(c.seed);
  const l = layouts(c);
  const fill = (lay: Layout, type: 'f32' | 'bf16', poison: boolean): Float32Array | Uint16Array => {
    const arr = storage(type, footprint(lay, c.batch));
    for (let i = 0; i < arr.length; i++) {
      if (!inMatrix(lay, c.batch, i)) put(arr, i, poison ? NaN : C_PADDING);
      else put(arr, i, nonZero(next));
    }
    return arr;
  };
  const data: GemmData = { a: fill(l.a, c.abType, true), b: fill(l.b, c.abType, true), c: fill(l.c, c.cType, false) };
  if (c.beta === 0) {
    for (let i = 0; i < data.c.length; i++) if (inMatrix(l.c, c.batch, i)) put(data.c, i, NaN);
  }
  if (c.bias) {
    data.bias = storage(c.biasType ?? c.cType, c.n);
    for (let j = 0; j < c.n; j++) put(data.bias, j, nonZero(next));
  }
  return data;
}

/**
 * Checks `out` (C after the GEMM) against a float64 reference computed from the stored (for bf16:
 * decoded) inputs. Tolerance per element, with S = sum_p |a_ip * b_pj|:
 *   f32 and bf16 inputs alike (bf16 values are exact in f32, accumulation is f32):
 *     |err| <= |alpha| * k * 2^-23 * S  +  2^-22 * (|alpha * dot| + |beta * c| + |bias|)
 *   the second term covering the roundings of alpha*, beta* and the adds; a bf16 C adds the half
 *   ulp of its final rounding, 2^-8 * |result|.
 * Returns the first failures (empty when all pass) and checks C's padding is untouched.
 */
export function checkResult(c: GemmCase, data: GemmData, out: Float32Array | Uint16Array): string[] {
  // A local binding: under jest's vm context every global lookup (Math) in a hot loop is ~100x slower.
  const abs = Math.abs;
  const l = layouts(c);
  const failures: string[] = [];
  // op(A[b]) as dense rows [m][k] and op(B[b]) as dense columns [n][k], decoded once, so the
  // reference's inner loop runs over plain arrays.
  const opA = new Float64Array(c.m * c.k);
  const opBt = new Float64Array(c.n * c.k);
  for (let b = 0; b < c.batch; b++) {
    for (let i = 0; i < c.m; i++) {
      for (let p = 0; p < c.k; p++) opA[i * c.k + p] = get(data.a, b * c.strideA + (c.transA ? p * c.lda + i : i * c.lda + p));
    }
    for (let j = 0; j < c.n; j++) {
      for (let p = 0; p < c.k; p++) opBt[j * c.k + p] = get(data.b, b * c.strideB + (c.transB ? j * c.ldb + p : p * c.ldb + j));
    }
    for (let i = 0; i < c.m; i++) {
      for (let j = 0; j < c.n; j++) {
        let dot = 0;
        let s = 0;
        for (let p = 0, ai = i * c.k, bj = j * c.k; p < c.k; p++) {
          const t = opA[ai + p]! * opBt[bj + p]!;
          dot += t;
          s += abs(t);
        }
        const idx = b * c.strideC + i * c.ldc + j;
        const old = c.beta === 0 ? 0 : get(data.c, idx);
        const bias = data.bias ? get(data.bias, j) : 0;
        const want = c.alpha * dot + c.beta * old + bias;
        let tol = Math.abs(c.alpha) * c.k * 2 ** -23 * s + 2 ** -22 * (Math.abs(c.alpha * dot) + Math.abs(c.beta * old) + Math.abs(bias));
        if (c.cType === 'bf16') tol += 2 ** -8 * Math.abs(want);
        const got = get(out, idx);
        if (!(Math.abs(got - want) <= tol) && failures.length < 5) {
          failures.push(`C[${b}][${i}][${j}] = ${got}, want ${want} ± ${tol}`);
        }
      }
    }
  }
  for (let i = 0; i < out.length; i++) {
    if (!inMatrix(l.c, c.batch, i) && get(out, i) !== get(data.c, i) && failures.length < 10) {
      failures.push(`padding C[${i}] changed to ${get(out, i)}`);
    }
  }
  return failures;
}
