// axpby: y = alpha x + beta y (native/kernels.h AxpbyArgs), f32 or bf16 storage, f32 arithmetic.
// Layouts: two distinct buffers; x aliasing y (the binding allows y identical to x); and beta = 0,
// where y is an 'out' buffer full of poison that the kernel must not read (the BLAS rule).
import { toF32, uniform } from './case-kit';
import type { KernelCase, KernelCases, Tolerance } from './case-types';

type Storage = 'f32' | 'bf16';

// f32: alpha x and beta y are each rounded once (|term| <= 4 here, so <= 2.4e-7 off), then their
// sum (<= 2^-24 relative); abs covers the terms' errors when the sum cancels.
// bf16: the same f32 value rounded once to bf16 (<= 2^-9 relative, 2^-8 bounds it with the f32 error).
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
    reference: ({ x }) => {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = alpha * x![i]!;
      return { y: out };
    },
    tolerance: TOLERANCE[dtype],
  };
}

const cases: KernelCase[] = [];
for (const dtype of ['f32', 'bf16'] as Storage[]) {
  for (const [i, [label, n]] of SIZES.entries()) {
    const seed = 100 * i + (dtype === 'bf16' ? 50 : 0);
    cases.push(distinct(dtype, label, n, seed), aliased(dtype, label, n, seed + 10), betaZero(dtype, label, n, seed + 20));
  }
}

const axpby: KernelCases = { kernel: 'axpby', cases };
export default axpby;
