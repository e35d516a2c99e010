import { kernel } from './declare';
import { patchChecks, patchFields } from './patchify';

export default kernel({
  name: 'unpatchify',
  fn: 'unpatchify',
  struct: 'PatchifyArgs',
  doc: `Patchify (forward) and its inverse (unpatchify, backward) between NHWC images and rows of patches:
  patches[b, gy * (W/p) + gx, (py * p + px) * C + ch] = images[b, gy * p + py, gx * p + px, ch]
Patches in row-major grid order; inside a patch (py, px, c) order. A timm/PyTorch conv weight
[D, C, p, p] therefore maps to our GEMM weight [p*p*C, D] via permute(2, 3, 1, 0). H and W must be
multiples of p. A pure permutation, so the inverse is exact.`,
  fields: patchFields('images'),
  checks: patchChecks,
});
