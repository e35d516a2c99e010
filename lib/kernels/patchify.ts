import { f, kernel, type Check, type Field } from './declare';

// One struct serves both directions (patchify reads images, unpatchify reads patches), so both
// pointers are mutable in it; each declaration says which one its kernel writes.
export function patchFields(written: 'images' | 'patches') {
  const role = (name: string) => (name === written ? 'out' : 'in');
  return {
    dtype: f.dtype(['f32', 'bf16']),
    b: f.count(),
    h: f.count(),
    w: f.count(),
    c: f.count(),
    p: f.count('>= 1, dividing h and w'),
    images: f.input('dtype', 'b * h * w * c', '[b, h, w, c]', { role: role('images'), pointer: 'void*' }),
    patches: f.input('dtype', 'b * h * w * c', '[b, (h/p)*(w/p), p*p*c]', { role: role('patches'), pointer: 'void*' }),
  } satisfies Record<string, Field>;
}

/** The struct's comment (PatchifyArgs serves both directions). */
export const PATCH_DOC = `Patchify (forward) and its inverse (unpatchify, backward) between NHWC images and rows of patches:
  patches[b, gy * (W/p) + gx, (py * p + px) * C + ch] = images[b, gy * p + py, gx * p + px, ch]
Patches in row-major grid order; inside a patch (py, px, c) order. A timm/PyTorch conv weight
[D, C, p, p] therefore maps to our GEMM weight [p*p*C, D] via permute(2, 3, 1, 0). H and W must be
multiples of p. A pure permutation, so the inverse is exact.`;

export const patchChecks: Check[] = [
  {
    holds: 'p >= 1 && h % p == 0 && w % p == 0',
    message: 'H and W must be multiples of the patch size p',
    expected: 'p >= 1 dividing h and w',
    received: 'h ${h}, w ${w}, p ${p}',
    example: () => ({ p: 0 }),
  },
];

export default kernel({
  name: 'patchify',
  fn: 'patchify',
  struct: 'PatchifyArgs',
  doc: PATCH_DOC,
  fields: patchFields('patches'),
  checks: patchChecks,
});
