/**
 * Training-time augmentation (random crop with zero padding, horizontal flip) fused with
 * normalization into the one pass that turns an example's bytes into the batch's floats.
 *
 * An example's augmentation is a pure function of (seed, step, position in the global batch), so it
 * does not depend on how the global batch is split over ranks, nor on what was built before it.
 */
import { hashWords, Mulberry32, STREAM } from './seeded-random';

export interface AugmentOptions {
  /**
   * Pad the image by `padding` pixels of value 0 on every side, then cut an H x W window at a
   * uniformly random offset (the CIFAR-style crop): a shift by -padding..padding in each axis.
   */
  crop?: { padding: number };
  /** Mirror left-right with probability 1/2. */
  flip?: boolean;
}

/** What is done to one example: out[y][x] = in[y + shiftY][(flip ? W-1-x : x) + shiftX], 0 outside. */
export interface ExampleAugmentation {
  shiftX: number;
  shiftY: number;
  flip: boolean;
}

export const IDENTITY_AUGMENTATION: Readonly<ExampleAugmentation> = Object.freeze({ shiftX: 0, shiftY: 0, flip: false });

/**
 * The augmentation of the example at `position` of the global batch of step `step`. Draws, in
 * this order from the example's own stream: the crop's x offset, its y offset, then the flip.
 */
export function augmentationFor(seed: number, step: number, position: number, options: AugmentOptions): ExampleAugmentation {
  const rng = new Mulberry32(hashWords(STREAM.augment, seed, step, position));
  let shiftX = 0;
  let shiftY = 0;
  if (options.crop && options.crop.padding > 0) {
    const p = options.crop.padding;
    shiftX = rng.below(2 * p + 1) - p;
    shiftY = rng.below(2 * p + 1) - p;
  }
  const flip = options.flip === true && rng.next() < 0.5;
  return { shiftX, shiftY, flip };
}

/**
 * The normalization as a lookup table: lut[c * 256 + v] = (v / 255 - mean[c]) / std[c]. One load
 * per pixel instead of a subtract and a divide, and exactly the same float for the same byte.
 */
export function normalizationTable(mean: readonly number[], std: readonly number[]): Float32Array {
  const lut = new Float32Array(256 * mean.length);
  for (let c = 0; c < mean.length; c++) {
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v / 255 - mean[c]!) / std[c]!;
  }
  return lut;
}

/**
 * Writes one example, augmented and normalized, into `out` at `outOffset` ([H, W, C] floats) from
 * `src` at `srcOffset` ([H, W, C] bytes). Pixels shifted in from outside the image are the value
 * of a 0 byte after normalization (black, as in the usual zero-padded crop).
 */
export function writeExample(
  src: Uint8Array,
  srcOffset: number,
  height: number,
  width: number,
  channels: number,
  lut: Float32Array,
  aug: ExampleAugmentation,
  out: Float32Array,
  outOffset: number,
): void {
  const { shiftX, shiftY, flip } = aug;
  const rowLen = width * channels;
  // Output columns whose source column lies inside the image, [xa, xb): source x + shiftX
  // unflipped, W-1-x + shiftX flipped.
  const xa = flip ? Math.max(0, shiftX) : Math.max(0, -shiftX);
  const xb = flip ? Math.min(width, width + shiftX) : Math.min(width, width - shiftX);
  for (let y = 0; y < height; y++) {
    const o = outOffset + y * rowLen;
    const sy = y + shiftY;
    if (sy < 0 || sy >= height || xa >= xb) {
      fillPadding(out, o, width, channels, lut);
      continue;
    }
    const rowSrc = srcOffset + sy * rowLen;
    if (xa > 0) fillPadding(out, o, xa, channels, lut);
    if (channels === 1) {
      // The common grey case, with no channel loop.
      if (flip) {
        const s = rowSrc + width - 1 + shiftX;
        for (let x = xa; x < xb; x++) out[o + x] = lut[src[s - x]!]!;
      } else {
        const s = rowSrc + shiftX;
        for (let x = xa; x < xb; x++) out[o + x] = lut[src[s + x]!]!;
      }
    } else {
      for (let x = xa; x < xb; x++) {
        const s = rowSrc + ((flip ? width - 1 - x : x) + shiftX) * channels;
        const d = o + x * channels;
        for (let c = 0; c < channels; c++) out[d + c] = lut[c * 256 + src[s + c]!]!;
      }
    }
    if (xb < width) fillPadding(out, o + xb * channels, width - xb, channels, lut);
  }
}

function fillPadding(out: Float32Array, offset: number, pixels: number, channels: number, lut: Float32Array): void {
  if (channels === 1) {
    out.fill(lut[0]!, offset, offset + pixels);
    return;
  }
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < channels; c++) out[offset + p * channels + c] = lut[c * 256]!;
  }
}
