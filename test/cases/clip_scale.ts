// clip_scale: scale[0] = norm[0] > maxNorm ? maxNorm / norm[0] : 1, NaN for a non-finite norm
// (lib/kernels/clip_scale.ts ClipScaleArgs), f32 [1] each, maxNorm rounded to f32 by the binding. The f32
// quotient is correctly rounded (CUDA promises the same bits), and a double quotient of two f32
// values rounded once to f32 is that quotient: exact, { abs: 0, rel: 0 }, on both devices.
import { EXACT, rng, toF32 } from './case-kit';
import type { KernelCase, KernelCases } from './case-types';

const F32_MAX = 3.4028234663852886e38;

function expected(norm: number, maxNorm: number): number {
  const m = toF32(maxNorm);
  if (!Number.isFinite(norm)) return Number.NaN;
  return norm > m ? toF32(m / norm) : 1;
}

function regime(norm: number, maxNorm: number): string {
  if (!Number.isFinite(norm)) return 'non-finite norm';
  return norm > toF32(maxNorm) ? 'norm > maxNorm' : 'norm <= maxNorm';
}

function caseOf(norm: number, maxNorm: number): KernelCase {
  const n = toF32(norm);
  return {
    name: `norm ${Object.is(n, -0) ? '-0' : n} maxNorm ${maxNorm}`,
    dtype: 'f32',
    layout: regime(n, maxNorm),
    buffers: {
      norm: { dtype: 'f32', size: 1, role: 'in', data: [n] },
      scale: { dtype: 'f32', size: 1, role: 'out' },
    },
    spec: (b) => ({ norm: b.norm, maxNorm, scale: b.scale }),
    reference: ({ norm: nb }) => ({ scale: [expected(nb![0]!, maxNorm)] }),
    tolerance: EXACT,
    gpuTolerance: EXACT,
  };
}

// Edges: zeros, the smallest subnormal, around 1, large, f32's largest, negatives and non-finites.
const EDGES = [0, -0, 1e-45, 1e-38, 0.5, 1, 1.0000001, 3, 1e10, 1e30, F32_MAX, -3, Infinity, -Infinity, Number.NaN];
const cases: KernelCase[] = [];
for (const maxNorm of [1, 0.3]) for (const norm of EDGES) cases.push(caseOf(norm, maxNorm));
// Extreme limits: the tiniest quotient and a limit near f32's largest.
for (const [norm, maxNorm] of [[1e30, 1e-30], [3, 1e-30], [F32_MAX, 3e38], [1e38, 3e38]]) cases.push(caseOf(norm!, maxNorm!));
// Random norms and limits over many magnitudes (both regimes).
const r = rng(7);
for (let i = 0; i < 8; i++) cases.push(caseOf(2 ** (80 * r() - 40), 2 ** (40 * r() - 20)));

const clipScale: KernelCases = { kernel: 'clip_scale', cases };
export default clipScale;
