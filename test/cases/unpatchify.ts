/**
 * unpatchify (lib/kernels/unpatchify.ts PatchifyArgs; lib/kernels/unpatchify.ts):
 * rows of patches [b, (h/p)(w/p), p*p*c] back to NHWC images [b, h, w, c], the inverse of patchify
 *   images[b, gy * p + py, gx * p + px, ch] = patches[b, gy * (W/p) + gx, (py * p + px) * C + ch];
 * f32 and bf16.
 *
 * Reference: the inverse index formula, looping over the output images.
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
import type { KernelCase, KernelCases } from './case-types';
import { roundTo, uniform } from './case-kit';

const EXACT = { abs: 0, rel: 0 };

/** images [b, h, w, c] from their patches in float64, by the index formula, output order. */
function unpatchifyRef(patches: ArrayLike<number>, b: number, h: number, w: number, c: number, p: number): Float64Array {
  const gw = w / p;
  const out = new Float64Array(b * h * w * c);
  let o = 0;
  for (let n = 0; n < b; n++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let ch = 0; ch < c; ch++) {
          const gy = Math.floor(y / p), py = y % p, gx = Math.floor(x / p), px = x % p;
          out[o++] = patches[((n * (h / p) + gy) * gw + gx) * p * p * c + (py * p + px) * c + ch]!;
        }
  return out;
}

/** patchify's float64 reference (test/cases/patchify.ts; case files cannot import each other). */
function patchifyRef(img: ArrayLike<number>, b: number, h: number, w: number, c: number, p: number): Float64Array {
  const gh = h / p, gw = w / p;
  const out = new Float64Array(b * h * w * c);
  let o = 0;
  for (let n = 0; n < b; n++)
    for (let gy = 0; gy < gh; gy++)
      for (let gx = 0; gx < gw; gx++)
        for (let py = 0; py < p; py++)
          for (let px = 0; px < p; px++)
            for (let ch = 0; ch < c; ch++) out[o++] = img[((n * h + gy * p + py) * w + gx * p + px) * c + ch]!;
  return out;
}

function patchLayout(h: number, w: number, p: number): string {
  if (p === 1) return 'p = 1 (one pixel per patch)';
  if (h === p && w === p) return 'one patch per image';
  return h === w ? 'square grid of patches' : 'non-square grid of patches';
}

// [b, h, w, c, p]: as patchify.ts (one pixel, p = 1, odd grids, one channel, one patch per image,
// non-square, ViT-B/16 patches at 112, and >= 2^16 elements for the CPU's row threads).
const PATCH_SHAPES: [number, number, number, number, number][] = [
  [1, 1, 1, 1, 1],
  [2, 5, 7, 3, 1],
  [2, 6, 9, 3, 3],
  [3, 4, 8, 1, 4],
  [1, 8, 8, 1, 8],
  [1, 28, 14, 5, 14],
  [2, 32, 48, 3, 16],
  [3, 64, 96, 4, 8],
  [1, 112, 112, 3, 16],
];

const cases: KernelCase[] = [];
let seed = 6500;
for (const dtype of ['f32', 'bf16'] as const) {
  for (const [b, h, w, c, p] of PATCH_SHAPES) {
    const n = b * h * w * c;
    cases.push({
      name: `${dtype} images [${b}, ${h}, ${w}, ${c}] p ${p}`,
      dtype,
      layout: patchLayout(h, w, p),
      buffers: {
        patches: { dtype, size: n, role: 'in', data: roundTo(dtype, uniform(n, seed++, -4, 4)) },
        images: { dtype, size: n, role: 'out' },
        x: { dtype: 'f32', size: n, role: 'in', data: uniform(n, seed++, -1, 1) },
      },
      spec: (bufs) => ({ dtype, b, h, w, c, p, images: bufs.images, patches: bufs.patches }),
      reference: (initial) => ({ images: unpatchifyRef(initial.patches!, b, h, w, c, p) }),
      tolerance: EXACT,
      gpuTolerance: EXACT,
      gradient: {
        forward: (inputs) => ({ patches: patchifyRef(inputs.x!, b, h, w, c, p) }),
        wrt: ['x'],
        cotangents: { patches: 'patches' },
        grads: { x: 'images' },
      },
    });
  }
}

const unpatchify: KernelCases = { kernel: 'unpatchify', cases };
export default unpatchify;
