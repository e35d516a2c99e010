/**
 * A labelled image data set held in memory as bytes: the form every source (IDX files, image
 * folders, the synthetic generator) produces and the DataLoader consumes. Bytes, not floats,
 * because they are 4x smaller and normalization is folded into batch assembly anyway.
 */
import { Vit22bError } from '../runtime/errors';

export interface Dataset {
  readonly name: string;
  /** [H, W, C] of every image. */
  readonly imageShape: readonly [number, number, number];
  readonly numClasses: number;
  /** Human-readable names of the classes, index = class id. */
  readonly classNames?: readonly string[];
  /** Number of examples N. */
  readonly size: number;
  /** [N, H, W, C], row-major (HWC per image), 0..255. */
  readonly images: Uint8Array;
  /** [N], each in [0, numClasses). */
  readonly labels: Int32Array;
  /**
   * Per-channel mean and standard deviation of pixel / 255, for normalizing ((x/255 - mean)/std).
   * Evaluate with the training set's statistics (DataLoader's `normalize` option), not the test set's.
   */
  readonly mean: readonly number[];
  readonly std: readonly number[];
  /** Where the data came from (a folder, or a description of the generator). */
  readonly source?: string;
}

/**
 * Checks the invariants a DataLoader relies on, so a malformed hand-built data set fails here with
 * the field named rather than as garbage batches. Labels are checked too: one out-of-range label
 * would index past the classifier's logits.
 */
export function checkDataset(ds: Dataset): void {
  const bad = (field: string, expected: string, received: string): never => {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `dataset '${ds.name}': ${field} must be ${expected}, got ${received}`, {
      field,
      expected,
      received,
    });
  };
  const [h, w, c] = ds.imageShape;
  for (const [i, v] of ds.imageShape.entries()) {
    if (!Number.isInteger(v) || v < 1) bad(`imageShape[${i}]`, 'a positive integer', String(v));
  }
  if (!Number.isInteger(ds.size) || ds.size < 0) bad('size', 'a non-negative integer', String(ds.size));
  if (!Number.isInteger(ds.numClasses) || ds.numClasses < 1) bad('numClasses', 'a positive integer', String(ds.numClasses));
  if (ds.images.length !== ds.size * h * w * c) {
    bad('images', `${ds.size * h * w * c} bytes (size * H * W * C)`, `${ds.images.length} bytes`);
  }
  if (ds.labels.length !== ds.size) bad('labels', `${ds.size} labels`, `${ds.labels.length}`);
  if (ds.mean.length !== c) bad('mean', `${c} values (one per channel)`, `${ds.mean.length}`);
  if (ds.std.length !== c) bad('std', `${c} values (one per channel)`, `${ds.std.length}`);
  for (const s of ds.std) if (!(s > 0) || !Number.isFinite(s)) bad('std', 'positive and finite', String(s));
  for (const m of ds.mean) if (!Number.isFinite(m)) bad('mean', 'finite', String(m));
  if (ds.classNames !== undefined && ds.classNames.length !== ds.numClasses) {
    bad('classNames', `${ds.numClasses} names`, `${ds.classNames.length}`);
  }
  const labels = ds.labels;
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (l < 0 || l >= ds.numClasses) {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', `dataset '${ds.name}': label ${l} at index ${i} is outside [0, ${ds.numClasses})`, {
        field: 'labels',
        index: i,
        expected: `a class id in [0, ${ds.numClasses})`,
        received: String(l),
      });
    }
  }
}

/**
 * Per-channel mean and (population) standard deviation of pixel / 255 over HWC images. Counts
 * byte values first (a 256-bin histogram per channel) so the sums are exact integers, whatever N.
 */
export function channelStats(images: Uint8Array, channels: number): { mean: number[]; std: number[] } {
  // u32 counts: increments of integers are cheaper than of doubles, and 2^32 bytes per channel is far off.
  const hist = new Uint32Array(256 * channels);
  const n = images.length;
  if (channels === 1) {
    for (let i = 0; i < n; i++) hist[images[i]!]!++;
  } else {
    for (let i = 0, c = 0; i < n; i++) {
      hist[c * 256 + images[i]!]!++;
      if (++c === channels) c = 0;
    }
  }
  const mean: number[] = [];
  const std: number[] = [];
  for (let c = 0; c < channels; c++) {
    let count = 0;
    let sum = 0;
    for (let v = 0; v < 256; v++) {
      count += hist[c * 256 + v]!;
      sum += v * hist[c * 256 + v]!;
    }
    const m = count > 0 ? sum / count : 0;
    let sq = 0;
    for (let v = 0; v < 256; v++) sq += (v - m) * (v - m) * hist[c * 256 + v]!;
    const s = count > 0 ? Math.sqrt(sq / count) : 0;
    mean.push(m / 255);
    // A constant channel would divide by zero when normalizing; 1 leaves it merely centred.
    std.push(s > 0 ? s / 255 : 1);
  }
  return { mean, std };
}
