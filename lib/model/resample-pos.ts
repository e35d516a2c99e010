/**
 * Learned position embeddings at another patch grid: the grid part is resampled bilinearly over its
 * two dimensions, the extra (class) token rows are kept as they are. This is what timm's
 * resample_abs_pos_embed does with interpolation='bilinear', antialias=False, and torch's
 * F.interpolate(align_corners=False): output pixel centres are mapped onto the input grid
 * (src = (dst + 0.5) * in / out - 0.5, clamped at 0), and the two nearest input rows / columns are
 * blended. Computed in float64, returned as float32.
 */
import { Vit22bError } from '../runtime/errors';

export interface PosGrid {
  /** Rows of the patch grid. */
  height: number;
  /** Columns of the patch grid. */
  width: number;
}

/** The two input indices and the weight of the second, for each output index (torch's rule). */
function taps(inSize: number, outSize: number): { i0: Int32Array; i1: Int32Array; w1: Float64Array } {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const w1 = new Float64Array(outSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; ++o) {
    const src = Math.max(0, (o + 0.5) * scale - 0.5);
    const lo = Math.min(Math.floor(src), inSize - 1);
    i0[o] = lo;
    i1[o] = lo < inSize - 1 ? lo + 1 : lo;
    w1[o] = src - lo;
  }
  return { i0, i1, w1 };
}

/**
 * `pos` is [prefix + from.height * from.width, dim] (row-major, the grid in raster order after the
 * prefix rows); returns [prefix + to.height * to.width, dim].
 */
export function resamplePosEmbed(pos: Float32Array, dim: number, prefix: number, from: PosGrid, to: PosGrid): Float32Array {
  const rowsIn = prefix + from.height * from.width;
  if (pos.length !== rowsIn * dim) {
    throw new Vit22bError('ERR_SHAPE_MISMATCH', 'resamplePosEmbed: the table does not match its grid', {
      expected: `[${rowsIn}, ${dim}]`,
      received: `${pos.length} values`,
    });
  }
  const out = new Float32Array((prefix + to.height * to.width) * dim);
  out.set(pos.subarray(0, prefix * dim), 0);
  const ys = taps(from.height, to.height);
  const xs = taps(from.width, to.width);
  const at = (y: number, x: number, k: number): number => pos[(prefix + y * from.width + x) * dim + k]!;
  for (let y = 0; y < to.height; ++y) {
    const [y0, y1, wy] = [ys.i0[y]!, ys.i1[y]!, ys.w1[y]!];
    for (let x = 0; x < to.width; ++x) {
      const [x0, x1, wx] = [xs.i0[x]!, xs.i1[x]!, xs.w1[x]!];
      const row = (prefix + y * to.width + x) * dim;
      for (let k = 0; k < dim; ++k) {
        const top = (1 - wx) * at(y0, x0, k) + wx * at(y0, x1, k);
        const bottom = (1 - wx) * at(y1, x0, k) + wx * at(y1, x1, k);
        out[row + k] = (1 - wy) * top + wy * bottom;
      }
    }
  }
  return out;
}
