/**
 * patchify (lib/kernels/unpatchify.ts PatchifyArgs; lib/kernels/patchify.ts):
 * NHWC images [b, h, w, c] to rows of patches [b, (h/p)(w/p), p*p*c],
 *   patches[b, gy * (W/p) + gx, (py * p + px) * C + ch] = images[b, gy * p + py, gx * p + px, ch],
 * patches in row-major grid order, (py, px, c) inside a patch; f32 and bf16.
 *
 * Reference: the documented index formula, looping over the output (test/kernels/tokens.test.ts
 * loops over the input). Inputs uniform in [-4, 4), rounded to the storage type.
 * Tolerance: exact on the CPU (a permutation: test/kernels/tokens.test.ts) and CUDA vs CPU bitwise
 * (test/gpu/elementwise-checks.cjs).
 */
import type { KernelCase, KernelCases } from './case-types';
import { roundTo, uniform } from './case-kit';

const EXACT = { abs: 0, rel: 0 };

/** The patches of images [b, h, w, c] in float64, by the index formula, output order. */
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

/** The coverage key of an image / patch shape. */
function patchLayout(h: number, w: number, p: number): string {
  if (p === 1) return 'p = 1 (one pixel per patch)';
  if (h === p && w === p) return 'one patch per image';
  return h === w ? 'square grid of patches' : 'non-square grid of patches';
}

// [b, h, w, c, p]: one pixel, p = 1 with channels, odd grids (2x3), one channel, one patch per
// image, non-square images, ViT-B/16 patches at 112 (49 patches of 768), and enough elements for
// the CPU's row threads (>= 2^16).
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
let seed = 6000;
for (const dtype of ['f32', 'bf16'] as const) {
  for (const [b, h, w, c, p] of PATCH_SHAPES) {
    const n = b * h * w * c;
    cases.push({
      name: `${dtype} images [${b}, ${h}, ${w}, ${c}] p ${p}`,
      dtype,
      layout: patchLayout(h, w, p),
      buffers: {
        images: { dtype, size: n, role: 'in', data: roundTo(dtype, uniform(n, seed++, -4, 4)) },
        patches: { dtype, size: n, role: 'out' },
      },
      spec: (bufs) => ({ dtype, b, h, w, c, p, images: bufs.images, patches: bufs.patches }),
      reference: (initial) => ({ patches: patchifyRef(initial.images!, b, h, w, c, p) }),
      tolerance: EXACT,
      gpuTolerance: EXACT,
    });
  }
}

const patchify: KernelCases = { kernel: 'patchify', cases };
export default patchify;
