// assert_finite: throws ERR_NON_FINITE when any of x[0 .. n) (f32) is NaN or +-inf, and does
// nothing otherwise (lib/kernels/assert_finite.ts AssertFiniteArgs). The table covers the silent case: finite
// inputs, no outputs (the reference returns {}), x unchanged; a launch that throws fails the case.
// The throwing cases, with their messages, are test/kernels/assert-finite.test.ts's.
import { uniform } from './case-kit';
import type { KernelCase, KernelCases } from './case-types';

const F32_MAX = 3.4028234663852886e38;

/** x holds `size` values; the kernel checks the first n, so non-finite values past n must pass. */
function caseOf(name: string, layout: string, data: ArrayLike<number>, n = data.length): KernelCase {
  return {
    name,
    dtype: 'f32',
    layout,
    buffers: { x: { dtype: 'f32', size: data.length, role: 'in', data } },
    spec: (b) => ({ x: b.x, n, what: 'loss' }),
    reference: () => ({}),
    tolerance: { abs: 0, rel: 0 },
  };
}

const cases: KernelCase[] = [
  caseOf('f32 1', 'contiguous', uniform(1, 1)),
  caseOf('f32 7', 'contiguous', uniform(7, 2)),
  caseOf('f32 13x17', 'contiguous', uniform(221, 3, -1e30, 1e30)),
  caseOf('f32 70001', 'contiguous', uniform(70001, 4, -1e6, 1e6)),
  // The extremes of f32 are finite: the largest magnitudes, the smallest subnormal, -0.
  caseOf('f32 extremes', 'contiguous', [F32_MAX, -F32_MAX, 1e-45, -1e-45, -0, 1.17549435e-38]),
  caseOf('f32 non-finite past n', 'prefix (n < size)', [...uniform(5, 5), Number.NaN, Infinity, -Infinity], 5),
  caseOf('f32 n 0 over non-finite values', 'empty (n 0)', [Number.NaN, Infinity], 0),
];

const assertFinite: KernelCases = { kernel: 'assert_finite', cases };
export default assertFinite;
