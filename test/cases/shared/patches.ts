/**
 * What patchify and unpatchify share: both index formulas in float64 (patchify's is also
 * unpatchify's gradient forward), the coverage key of an image / patch shape, the shapes, and the
 * fields both files' cases have alike. Bundled into dist/kernel-checks.cjs: imports only
 * test/cases/ modules.
 */
import type { KernelCase } from '../case-types';
import { EXACT } from '../case-kit';

/** The patches of images [b, h, w, c] in float64, by the index formula, output order. */
export function patchifyRef(img: ArrayLike<number>, b: number, h: number, w: number, c: number, p: number): Float64Array {
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

/** images [b, h, w, c] from their patches in float64, by the index formula, output order. */
export function unpatchifyRef(patches: ArrayLike<number>, b: number, h: number, w: number, c: number, p: number): Float64Array {
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

/** The coverage key of an image / patch shape. */
export function patchLayout(h: number, w: number, p: number): string {
  if (p === 1) return 'p = 1 (one pixel per patch)';
  if (h === p && w === p) return 'one patch per image';
  return h === w ? 'square grid of patches' : 'non-square grid of patches';
}

/**
 * [b, h, w, c, p]: one pixel, p = 1 with channels, odd grids (2x3), one channel, one patch per
 * image, non-square images, ViT-B/16 patches at 112 (49 patches of 768), and enough elements for
 * the CPU's row threads (>= 2^16).
 */
export const PATCH_SHAPES: [number, number, number, number, number][] = [
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

/** What a case file adds to the shared fields: buffers, spec, reference (and gradient). */
type Rest = Omit<KernelCase, 'name' | 'dtype' | 'layout' | 'tolerance' | 'gpuTolerance'>;

/**
 * Every shape in both storages, with the same names and coverage keys in both files, and exact
 * tolerances: a permutation, exact on the CPU (test/kernels/tokens.test.ts) and CUDA vs CPU
 * bitwise (test/gpu/elementwise-checks.cjs). `rest` builds the file's part of the case.
 */
export function patchCases(rest: (dtype: 'f32' | 'bf16', shape: [number, number, number, number, number], n: number) => Rest): KernelCase[] {
  const out: KernelCase[] = [];
  for (const dtype of ['f32', 'bf16'] as const) {
    for (const [b, h, w, c, p] of PATCH_SHAPES) {
      out.push({
        name: `${dtype} images [${b}, ${h}, ${w}, ${c}] p ${p}`,
        dtype,
        layout: patchLayout(h, w, p),
        ...rest(dtype, [b, h, w, c, p], b * h * w * c),
        tolerance: EXACT,
        gpuTolerance: EXACT,
      });
    }
  }
  return out;
}
