/**
 * Weights as f32 whatever float type a file stores them in: published checkpoints come in F32, but
 * also F16 and BF16 (half the download), and F64 from float64 references. Each value widens exactly
 * (F16 and BF16 are subsets of f32); F64 rounds to nearest. Anything else is ERR_DTYPE_MISMATCH
 * naming the file and the tensor.
 */
import { Vit22bError } from '../runtime/errors';
import type { SafetensorsFile } from './safetensors';

/** IEEE half (bits) -> number, subnormals, infinities and NaN included. */
export function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

export function readFloatTensor(f: SafetensorsFile, name: string): Float32Array {
  const e = f.entry(name);
  const bytes = f.read(name);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (e.dtype) {
    case 'F32':
      return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    case 'F16':
      return Float32Array.from({ length: bytes.byteLength / 2 }, (_, i) => halfToNumber(view.getUint16(2 * i, true)));
    case 'BF16': {
      // bf16 is the top half of an f32: shift the bits into place.
      const out = new Uint32Array(bytes.byteLength / 2);
      for (let i = 0; i < out.length; ++i) out[i] = view.getUint16(2 * i, true) << 16;
      return new Float32Array(out.buffer);
    }
    case 'F64':
      return Float32Array.from({ length: bytes.byteLength / 8 }, (_, i) => view.getFloat64(8 * i, true));
    default:
      throw new Vit22bError('ERR_DTYPE_MISMATCH', `${f.file}: ${name} is ${e.dtype}; weights must be F32, F16, BF16 or F64`, {
        file: f.file,
        tensor: name,
        expected: 'F32 | F16 | BF16 | F64',
        received: e.dtype,
      });
  }
}
