/**
 * patchify (lib/kernels/unpatchify.ts PatchifyArgs; lib/kernels/patchify.ts):
 * NHWC images [b, h, w, c] to rows of patches [b, (h/p)(w/p), p*p*c],
 *   patches[b, gy * (W/p) + gx, (py * p + px) * C + ch] = images[b, gy * p + py, gx * p + px, ch],
 * patches in row-major grid order, (py, px, c) inside a patch; f32 and bf16.
 *
 * Reference: the documented index formula (test/cases/shared/patches.ts), looping over the output
 * (test/kernels/tokens.test.ts loops over the input). Inputs uniform in [-4, 4), rounded to the
 * storage type.
 * Tolerance: exact on the CPU (a permutation: test/kernels/tokens.test.ts) and CUDA vs CPU bitwise
 * (test/gpu/elementwise-checks.cjs).
 */
import type { KernelCases } from './case-types';
import { roundTo, uniform } from './case-kit';
import { patchCases, patchifyRef } from './shared/patches';

// The shapes of shared/patches.ts (unpatchify's too).
let seed = 6000;
const cases = patchCases((dtype, [b, h, w, c, p], n) => ({
  buffers: {
    images: { dtype, size: n, role: 'in', data: roundTo(dtype, uniform(n, seed++, -4, 4)) },
    patches: { dtype, size: n, role: 'out' },
  },
  spec: (bufs) => ({ dtype, b, h, w, c, p, images: bufs.images, patches: bufs.patches }),
  reference: (initial) => ({ patches: patchifyRef(initial.images!, b, h, w, c, p) }),
}));

const patchify: KernelCases = { kernel: 'patchify', cases };
export default patchify;
