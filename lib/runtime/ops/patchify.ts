import type { Device } from '../device';
import { Vit22bError } from '../errors';
import type { DeviceTensor } from '../tensor';
import { count, requireSameDType, requireShape, requireTensor, shapeError, shapeText } from './check';

/**
 * The shapes of a patchify: images [B, H, W, C] (NHWC) and patches [B, (H/p)*(W/p), p*p*C].
 * Patches are in row-major grid order; inside a patch, (py, px, c) order:
 *   patches[b, gy*(W/p) + gx, (py*p + px)*C + c] = images[b, gy*p + py, gx*p + px, c].
 * A timm / PyTorch patch-embedding conv weight [D, C, p, p] becomes our projection weight
 * [p*p*C, D] with weight.permute(2, 3, 1, 0).reshape(p*p*C, D).
 */
function check(op: string, images: DeviceTensor, patches: DeviceTensor, patch: unknown) {
  const { dtype } = requireTensor(images, op, 'images', ['f32', 'bf16']);
  requireTensor(patches, op, 'patches', ['f32', 'bf16']);
  requireSameDType(images, patches, op, 'images and patches');
  if (images.shape.length !== 4) throw shapeError(`${op} images must be [B, H, W, C]`, '[B, H, W, C]', shapeText(images.shape));
  const p = count(patch, op, 'patch');
  const [b, h, w, c] = images.shape as [number, number, number, number];
  if (p < 1 || h % p !== 0 || w % p !== 0) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `${op}: the patch size must divide H and W`, {
      expected: `a patch size p >= 1 dividing ${h} and ${w}`,
      received: String(p),
    });
  }
  requireShape(patches, op, 'patches', [b, (h / p) * (w / p), p * p * c]);
  return { dtype, b, h, w, c, p, images: images.buffer, patches: patches.buffer };
}

/** patches = patchify(images); options.patch is p. */
export function patchify(device: Device, images: DeviceTensor, patches: DeviceTensor, options: { patch: number }): void {
  device.native.launch('patchify', check('patchify', images, patches, options?.patch));
}

/** images = the inverse of patchify (the backward: the image gradient from the patch gradient). */
export function unpatchify(device: Device, patches: DeviceTensor, images: DeviceTensor, options: { patch: number }): void {
  device.native.launch('unpatchify', check('unpatchify', images, patches, options?.patch));
}
