// The synthetic shapes data set (lib/data/synthetic.ts): determinism, balance, statistics, and
// that it is learnable but not trivially so, measured with simple classifiers written here.
import { channelStats } from '../../lib/data/dataset';
import { renderSyntheticImage, SYNTHETIC_CLASSES, syntheticDataset } from '../../lib/data/synthetic';
import { isVit22bError } from '../../lib/runtime/errors';
import { thrownBy } from '../helpers/errors';

describe('syntheticDataset', () => {
  test('same seed: the same bytes; another seed: different images, same labels', () => {
    const a = syntheticDataset({ size: 300, seed: 11 });
    const b = syntheticDataset({ size: 300, seed: 11 });
    const c = syntheticDataset({ size: 300, seed: 12 });
    expect(Buffer.from(a.images).equals(Buffer.from(b.images))).toBe(true);
    expect(a.labels).toEqual(b.labels);
    expect(c.labels).toEqual(a.labels);
    // Every single image differs under another seed, not just a few.
    for (let i = 0; i < 300; i++) {
      expect(Buffer.from(a.images.subarray(i * 784, (i + 1) * 784)).equals(Buffer.from(c.images.subarray(i * 784, (i + 1) * 784)))).toBe(false);
    }
  });

  test('image i depends on (seed, i) only: a larger set starts with the smaller one; renderSyntheticImage alone agrees', () => {
    const small = syntheticDataset({ size: 50, seed: 3 });
    const large = syntheticDataset({ size: 120, seed: 3 });
    expect(Buffer.from(large.images.subarray(0, 50 * 784)).equals(Buffer.from(small.images))).toBe(true);
    const one = new Uint8Array(784 + 5);
    for (const i of [0, 17, 49]) {
      expect(renderSyntheticImage(3, i, 28, one, 5)).toBe(small.labels[i]);
      expect(Buffer.from(one.subarray(5)).equals(Buffer.from(small.images.subarray(i * 784, (i + 1) * 784)))).toBe(true);
    }
  });

  test('classes are balanced to within one example', () => {
    for (const size of [1000, 1003, 7]) {
      const ds = syntheticDataset({ size, seed: 1 });
      const counts = new Array<number>(10).fill(0);
      for (const l of ds.labels) counts[l]!++;
      for (const n of counts) expect(n === Math.floor(size / 10) || n === Math.ceil(size / 10)).toBe(true);
    }
  });

  test('shape, names and per-set statistics (recomputed in float64 here)', () => {
    const ds = syntheticDataset({ size: 400, seed: 2, imageSize: 32 });
    expect(ds.imageShape).toEqual([32, 32, 1]);
    expect(ds.numClasses).toBe(10);
    expect(ds.classNames).toEqual(SYNTHETIC_CLASSES);
    expect(ds.images.length).toBe(400 * 32 * 32);
    let sum = 0;
    for (const v of ds.images) sum += v / 255;
    const mean = sum / ds.images.length;
    let sq = 0;
    for (const v of ds.images) sq += (v / 255 - mean) ** 2;
    expect(ds.mean[0]).toBeCloseTo(mean, 12);
    expect(ds.std[0]).toBeCloseTo(Math.sqrt(sq / ds.images.length), 12);
  });

  test('channelStats on three channels agrees with a direct float64 computation', () => {
    const bytes = syntheticDataset({ size: 30, seed: 9 }).images; // 23520 bytes = 7840 pixels of 3 channels
    const { mean, std } = channelStats(bytes, 3);
    for (let c = 0; c < 3; c++) {
      let s = 0;
      let n = 0;
      for (let i = c; i < bytes.length; i += 3, n++) s += bytes[i]! / 255;
      const m = s / n;
      let q = 0;
      for (let i = c; i < bytes.length; i += 3) q += (bytes[i]! / 255 - m) ** 2;
      expect(mean[c]).toBeCloseTo(m, 12);
      expect(std[c]).toBeCloseTo(Math.sqrt(q / n), 12);
    }
  });

  test('images use the whole range: dark backgrounds, bright shapes, nothing constant', () => {
    const ds = syntheticDataset({ size: 200, seed: 4 });
    for (let i = 0; i < 200; i++) {
      const img = ds.images.subarray(i * 784, (i + 1) * 784);
      let lo = 255;
      let hi = 0;
      for (const v of img) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      // Background at most 50 plus noise, shape contrast at least 90.
      expect(lo).toBeLessThan(100);
      expect(hi - lo).toBeGreaterThan(60);
    }
  });

  test('the border rows and columns hold no shape: shapes are drawn inside the image', () => {
    const ds = syntheticDataset({ size: 500, seed: 6 });
    // Background <= 50 and noise sigma <= 20 (triangular, bounded by 2.45 sigma): border pixels stay below 100.
    let max = 0;
    for (let i = 0; i < 500; i++) {
      for (let k = 0; k < 28; k++) {
        for (const p of [k, 27 * 28 + k, k * 28, k * 28 + 27]) max = Math.max(max, ds.images[i * 784 + p]!);
      }
    }
    expect(max).toBeLessThan(100);
  });

  test('learnable, but not by brightness or a pixel template alone (nearest centroid; printed)', () => {
    const train = syntheticDataset({ size: 6000, seed: 21 });
    const test = syntheticDataset({ size: 2000, seed: 22 });
    const d = 784;
    // Nearest class centroid in raw pixel space.
    const centroids = new Float64Array(10 * d);
    const counts = new Float64Array(10);
    for (let i = 0; i < train.size; i++) {
      const l = train.labels[i]!;
      counts[l]!++;
      for (let p = 0; p < d; p++) centroids[l * d + p]! += train.images[i * d + p]!;
    }
    for (let l = 0; l < 10; l++) for (let p = 0; p < d; p++) centroids[l * d + p]! /= counts[l]!;
    // Nearest class mean of the image's mean brightness (a 1-D classifier).
    const brightness = (ds: typeof train, i: number): number => {
      let s = 0;
      for (let p = 0; p < d; p++) s += ds.images[i * d + p]!;
      return s / d;
    };
    const classBrightness = new Float64Array(10);
    for (let i = 0; i < train.size; i++) classBrightness[train.labels[i]!]! += brightness(train, i) / counts[train.labels[i]!]!;

    let centroidHits = 0;
    let brightnessHits = 0;
    for (let i = 0; i < test.size; i++) {
      let best = -1;
      let bestDist = Infinity;
      for (let l = 0; l < 10; l++) {
        let dist = 0;
        for (let p = 0; p < d; p++) dist += (test.images[i * d + p]! - centroids[l * d + p]!) ** 2;
        if (dist < bestDist) [best, bestDist] = [l, dist];
      }
      if (best === test.labels[i]) centroidHits++;
      const b = brightness(test, i);
      let bb = 0;
      for (let l = 1; l < 10; l++) if (Math.abs(b - classBrightness[l]!) < Math.abs(b - classBrightness[bb]!)) bb = l;
      if (bb === test.labels[i]) brightnessHits++;
    }
    const centroidAccuracy = centroidHits / test.size;
    const brightnessAccuracy = brightnessHits / test.size;
    console.log(`synthetic shapes: nearest-centroid accuracy ${centroidAccuracy.toFixed(3)}, brightness-only ${brightnessAccuracy.toFixed(3)} (chance 0.100)`);
    expect(centroidAccuracy).toBeGreaterThan(0.25);
    expect(centroidAccuracy).toBeLessThan(0.8);
    expect(brightnessAccuracy).toBeLessThan(0.3);
  });

  test('60 000 images are generated in about a second (time printed, not asserted)', () => {
    const t0 = performance.now();
    const ds = syntheticDataset({ size: 60000, seed: 0 });
    const ms = performance.now() - t0;
    console.log(`synthetic shapes: 60000 images 28x28 in ${ms.toFixed(0)} ms`);
    expect(ds.size).toBe(60000);
  });

  test('bad options are typed errors', () => {
    for (const [opts, field] of [
      [{ size: -1, seed: 0 }, 'size'],
      [{ size: 1.5, seed: 0 }, 'size'],
      [{ size: 10, seed: -2 }, 'seed'],
      [{ size: 10, seed: 0, imageSize: 4 }, 'imageSize'],
    ] as const) {
      const e = thrownBy(() => syntheticDataset(opts));
      expect(isVit22bError(e, 'ERR_INVALID_ARGUMENT')).toBe(true);
      expect((e as { details: { field: string } }).details.field).toBe(field);
    }
  });
});
