/**
 * unpatchify (lib/kernels/unpatchify.ts PatchifyArgs; lib/kernels/unpatchify.ts):
 * rows of patches [b, (h/p)(w/p), p*p*c] back to NHWC images [b, h, w, c], the inverse of patchify
 *   images[b, gy * p + py, gx * p + px, ch] = patches[b, gy * (W/p) + gx, (py * p + px) * C + ch];
 * f32 and bf16.
 *
 * Reference: the inverse index formula, looping over the output images (test/cases/shared/patches.ts).
 * Inputs uniform in [-4, 4), rounded to the storage type.
 *
 * Gradient: patchify is a permutation, so its inverse is its transpose, which is why the graph uses
 * unpatchify as patchify's backward (lib/graph/ops/patchify.ts). The check pairs this reference
 * with patchify's float64 reference: <patches, d patchify(x)[v]> = <images, v>, x being the buffer
 * x (the forward's input; the kernel does not read it).
 *
 * Tolerance: exact on the CPU (a permutation: test/kernels/tokens.test.ts) and CUDA vs CPU bitwise
 * (test/gpu/elementwise-checks.cjs).
 */
import type { KernelCases } from './case-types';
import { roundTo, uniform } from './case-kit';
import { patchCases, patchifyRef, unpatchifyRef } from './shared/patches';

// The shapes of shared/patches.ts (patchify's too).
let seed = 6500;
const cases = patchCases((dtype, [b, h, w, c, p], n) => ({
  buffers: {
    patches: { dtype, size: n, role: 'in', data: roundTo(dtype, uniform(n, seed++, -4, 4)) },
    images: { dtype, size: n, role: 'out' },
    x: { dtype: 'f32', size: n, role: 'in', data: uniform(n, seed++, -1, 1) },
  },
  spec: (bufs) => ({ dtype, b, h, w, c, p, images: bufs.images, patches: bufs.patches }),
  reference: (initial) => ({ images: unpatchifyRef(initial.patches!, b, h, w, c, p) }),
  gradient: {
    forward: (inputs) => ({ patches: patchifyRef(inputs.x!, b, h, w, c, p) }),
    wrt: ['x'],
    cotangents: { patches: 'patches' },
    grads: { x: 'images' },
  },
}));

const unpatchify: KernelCases = { kernel: 'unpatchify', cases };
export default unpatchify;
