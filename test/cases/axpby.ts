// axpby: y = alpha x + beta y (lib/kernels/axpby.ts AxpbyArgs), f32 or bf16 storage, f32 arithmetic.
// Layouts: two distinct buffers; x aliasing y (the binding allows y identical to x); and beta = 0,
// where y is an 'out' buffer full of poison that the kernel must not read (the BLAS rule).
import { EXACT, rng, toBf16, toF32, uniform } from './case-kit';
import type { KernelCase, KernelCases, Tolerance } from './case-types';

type Storage = 'f32' | 'bf16';

// f32: alpha x and beta y are each rounded once (|term| <= 4.5 here, so <= 2.7e-7 off), then their
// sum (<= 2^-24 relative); abs covers the terms' errors when the sum cancels.
// bf16: the same f32 value rounded once to bf16 (<= 2^-9 relative, 2^-8 bounds it with the f32 error).
// Exact where one rounding is all there is: beta = 0 (one product) and the bf16 ties case.
const TOLERANCE: Record<Storage, Tolerance> = {
  f32: { abs: 1e-6, rel: 1e-6 },
  bf16: { abs: 1e-6, rel: 2 ** -8 },
};

// Sizes: one element, an odd vector, a 13x17 matrix flattened, and a few thousand (wide loops).
const SIZES: [string, number][] = [
  ['1', 1],
  ['7', 7],
  ['13x17', 13 * 17],
  ['4099', 4099],
];

function distinct(dtype: Storage, label: string, n: number, seed: number): KernelCase {
  const alpha = 0.75;
  const beta = -1.3; // not exact in f32: the reference must round it as the binding does
  return {
    name: `${dtype} ${label} alpha ${alpha} beta ${beta}`,
    dtype,
    layout: 'contiguous',
    buffers: {
      x: { dtype, size: n, role: 'in', data: uniform(n, seed) },
      y: { dtype, size: n, role: 'inout', data: uniform(n, seed + 1) },
    },
    spec: (b) => ({ dtype, n, alpha, x: b.x, beta, y: b.y }),
    reference: ({ x, y }) => {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = toF32(alpha) * x![i]! + toF32(beta) * y![i]!;
      return { y: out };
    },
    tolerance: TOLERANCE[dtype],
  };
}

function aliased(dtype: Storage, label: string, n: number, seed: number): KernelCase {
  const alpha = -0.5;
  const beta = 2.25;
  return {
    name: `${dtype} ${label} x is y`,
    dtype,
    layout: 'aliased x = y',
    buffers: { y: { dtype, size: n, role: 'inout', data: uniform(n, seed) } },
    spec: (b) => ({ dtype, n, alpha, x: b.y, beta, y: b.y }),
    reference: ({ y }) => {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = (alpha + beta) * y![i]!;
      return { y: out };
    },
    tolerance: TOLERANCE[dtype],
  };
}

function betaZero(dtype: Storage, label: string, n: number, seed: number): KernelCase {
  const alpha = 1.5;
  return {
    name: `${dtype} ${label} beta 0 (poisoned y not read)`,
    dtype,
    layout: 'beta 0',
    buffers: {
      x: { dtype, size: n, role: 'in', data: uniform(n, seed) },
      y: { dtype, size: n, role: 'out' },
    },
    spec: (b) => ({ dtype, n, alpha, x: b.x, beta: 0, y: b.y }),
    // One f32 product, rounded once (then to bf16): exact.
    reference: ({ x }) => ({ y: x!.map((v) => (dtype === 'f32' ? toF32 : toBf16)(toF32(alpha * v))) }),
    tolerance: EXACT,
  };
}

/** A random bf16 value +-(1 + k/128) 2^e, as a number. */
function bf16Value(r: () => number, e: number): number {
  return (r() < 0.5 ? -1 : 1) * (1 + Math.floor(128 * r()) / 128) * 2 ** e;
}

/**
 * bf16 with alpha = beta = 1 and exponents at most 15 apart: x + y is exact in f32, so the only
 * rounding is the bf16 store, and the result must be exactly the nearest-even rounding of x + y.
 * The first three pairs are ties (1 + 2^-8 -> 1; 1 + 2^-7 + 2^-8 -> 1 + 2^-6; negated).
 */
function ties(n: number, seed: number): KernelCase {
  const r = rng(seed);
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const e = Math.floor(61 * r()) - 30;
    x[i] = bf16Value(r, e);
    y[i] = bf16Value(r, e - Math.floor(16 * r()));
  }
  x.set([1, 1 + 2 ** -7, -(1 + 2 ** -7)]);
  y.set([2 ** -8, 2 ** -8, -(2 ** -8)]);
  return {
    name: `bf16 ${n} alpha 1 beta 1 rounding ties to even`,
    dtype: 'bf16',
    layout: 'contiguous',
    buffers: {
      x: { dtype: 'bf16', size: n, role: 'in', data: x },
      y: { dtype: 'bf16', size: n, role: 'inout', data: y },
    },
    spec: (b) => ({ dtype: 'bf16', n, alpha: 1, x: b.x, beta: 1, y: b.y }),
    reference: (init) => ({ y: init.x!.map((v, i) => toBf16(v + init.y![i]!)) }),
    tolerance: EXACT,
  };
}

const cases: KernelCase[] = [];
for (const dtype of ['f32', 'bf16'] as Storage[]) {
  for (const [i, [label, n]] of SIZES.entries()) {
    const seed = 100 * i + (dtype === 'bf16' ? 50 : 0);
    cases.push(distinct(dtype, label, n, seed), aliased(dtype, label, n, seed + 10), betaZero(dtype, label, n, seed + 20));
  }
}

cases.push(ties(4099, 15));

const axpby: KernelCases = { kernel: 'axpby', cases };
export default axpby;
