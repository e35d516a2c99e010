// The DataLoader (lib/data/loader.ts) and the augmentation it applies (lib/data/augment.ts):
// determinism and resumption, epoch coverage, rank sharding, the last batch, crop and flip against a
// naive float64 reference, prefetch overlapping an asynchronous step, and typed errors.
import { augmentationFor, type AugmentOptions } from '../../lib/data/augment';
import type { Dataset } from '../../lib/data/dataset';
import { DataLoader, type Batch, type DataLoaderOptions } from '../../lib/data/loader';
import { isVit22bError, type Vit22bError } from '../../lib/runtime/errors';
import { thrownBy } from '../helpers/errors';
import { mulberry32, randInt } from '../helpers/prng';

/** Random bytes and labels: every pixel distinct enough that a misplaced one is noticed. */
function randomDataset(seed: number, size: number, [h, w, c]: [number, number, number], numClasses = 7): Dataset {
  const rng = mulberry32(seed);
  const mean = Array.from({ length: c }, () => 0.3 + 0.4 * rng());
  const std = Array.from({ length: c }, () => 0.2 + 0.3 * rng());
  return {
    name: `random-${seed}`,
    imageShape: [h, w, c],
    numClasses,
    size,
    images: Uint8Array.from({ length: size * h * w * c }, () => randInt(rng, 0, 255)),
    labels: Int32Array.from({ length: size }, () => randInt(rng, 0, numClasses - 1)),
    mean,
    std,
  };
}

/**
 * The batch row a naive reference expects: pad the example with zeros by `p` on every side in
 * float64, cut the window at (p + shiftY, p + shiftX), mirror it if asked, normalize.
 */
function referenceRow(ds: Dataset, index: number, aug: { shiftX: number; shiftY: number; flip: boolean }, p: number, norm = ds): Float32Array {
  const [h, w, c] = ds.imageShape;
  const ph = h + 2 * p;
  const pw = w + 2 * p;
  const padded = new Float64Array(ph * pw * c); // zeros: the padding value before normalization
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let k = 0; k < c; k++) padded[((y + p) * pw + x + p) * c + k] = ds.images[((index * h + y) * w + x) * c + k]!;
    }
  }
  const crop = new Float64Array(h * w * c);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let k = 0; k < c; k++) crop[(y * w + x) * c + k] = padded[((y + p + aug.shiftY) * pw + x + p + aug.shiftX) * c + k]!;
    }
  }
  const out = new Float32Array(h * w * c);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const sx = aug.flip ? w - 1 - x : x;
      for (let k = 0; k < c; k++) out[(y * w + x) * c + k] = (crop[(y * w + sx) * c + k]! / 255 - norm.mean[k]!) / norm.std[k]!;
    }
  }
  return out;
}

function sameBatch(a: Batch, b: Batch): void {
  expect(a.step).toBe(b.step);
  expect(a.epoch).toBe(b.epoch);
  expect(a.size).toBe(b.size);
  expect(a.valid).toBe(b.valid);
  expect(a.indices).toEqual(b.indices);
  expect(a.labels).toEqual(b.labels);
  expect(Buffer.from(a.images.buffer).equals(Buffer.from(b.images.buffer))).toBe(true);
}

const augment: AugmentOptions = { crop: { padding: 2 }, flip: true };

describe('DataLoader order', () => {
  const ds = randomDataset(1, 103, [4, 5, 3]);

  test('deterministic: two loaders with the same options give the same batches; another seed another order', () => {
    const opts: DataLoaderOptions = { batch: 8, seed: 5, shuffle: true, augment, dropLast: true };
    const a = new DataLoader(ds, opts);
    const b = new DataLoader(ds, opts);
    const c = new DataLoader(ds, { ...opts, seed: 6 });
    for (const step of [0, 1, 12, 13, 40]) sameBatch(a.batchAt(step), b.batchAt(step));
    expect(c.batchAt(0).indices).not.toEqual(a.batchAt(0).indices);
  });

  test('resume: batchAt(k) on a fresh loader equals the k-th batch of a running iteration, across epochs', async () => {
    const opts: DataLoaderOptions = { batch: 8, seed: 9, shuffle: true, augment, dropLast: true };
    const running = new DataLoader(ds, opts);
    expect(running.stepsPerEpoch).toBe(12); // floor(103 / 8)
    const seen: Batch[] = [];
    for await (const b of running.batches({ steps: 30 })) seen.push(b);
    expect(seen.map((b) => b.step)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    // Fresh loaders, visited backwards, so no state of a previous call can help.
    for (let k = 29; k >= 0; k -= 3) sameBatch(new DataLoader(ds, opts).batchAt(k), seen[k]!);
    // Resuming the iteration itself at step 17 continues identically.
    let k = 17;
    for await (const b of new DataLoader(ds, opts).batches({ from: 17, steps: 5 })) sameBatch(b, seen[k++]!);
    expect(k).toBe(22);
  });

  test('each shuffled epoch is a permutation: every index once (dropLast: false), orders differ between epochs', () => {
    const loader = new DataLoader(ds, { batch: 10, seed: 3, shuffle: true, dropLast: false, lastBatch: 'short' });
    expect(loader.stepsPerEpoch).toBe(11);
    const epochs: number[][] = [];
    for (let e = 0; e < 3; e++) {
      const order: number[] = [];
      for (let s = e * 11; s < (e + 1) * 11; s++) {
        const b = loader.batchAt(s);
        expect(b.epoch).toBe(e);
        order.push(...b.indices);
        for (let j = 0; j < b.size; j++) expect(b.labels[j]).toBe(ds.labels[b.indices[j]!]);
      }
      expect([...order].sort((x, y) => x - y)).toEqual(Array.from({ length: 103 }, (_, i) => i));
      epochs.push(order);
    }
    expect(epochs[1]).not.toEqual(epochs[0]);
    expect(epochs[2]).not.toEqual(epochs[1]);
    // Not the identity either.
    expect(epochs[0]).not.toEqual(Array.from({ length: 103 }, (_, i) => i));
  });

  test('dropLast: each epoch covers floor(N / G) * G distinct examples', () => {
    const loader = new DataLoader(ds, { batch: 10, seed: 4, shuffle: true, dropLast: true });
    expect(loader.stepsPerEpoch).toBe(10);
    const seen = new Set<number>();
    for (let s = 10; s < 20; s++) for (const i of loader.batchAt(s).indices) seen.add(i);
    expect(seen.size).toBe(100);
  });

  test('shuffled positions are spread evenly: each index lands in each half of the epoch about half the time', () => {
    const small = randomDataset(2, 20, [1, 1, 1]);
    const loader = new DataLoader(small, { batch: 10, seed: 8, shuffle: true, dropLast: true });
    const firstHalf = new Array<number>(20).fill(0);
    const epochs = 400;
    for (let e = 0; e < epochs; e++) for (const i of loader.batchAt(2 * e).indices) firstHalf[i]!++;
    // Binomial(400, 1/2): standard deviation 10; 5 sigma bounds.
    for (const n of firstHalf) expect(Math.abs(n - epochs / 2)).toBeLessThan(50);
  });
});

describe('DataLoader sharding over ranks', () => {
  const ds = randomDataset(3, 90, [6, 6, 1]);

  test('the ranks of a step partition the global batch: concatenated they equal a single-rank loader, images included', () => {
    const worldSize = 3;
    const base: DataLoaderOptions = { batch: 4, seed: 12, shuffle: true, augment, dropLast: true };
    const single = new DataLoader(ds, { ...base, batch: 4 * worldSize });
    const ranks = Array.from({ length: worldSize }, (_, rank) => new DataLoader(ds, { ...base, rank, worldSize }));
    expect(ranks[0]!.globalBatch).toBe(12);
    expect(ranks[0]!.stepsPerEpoch).toBe(single.stepsPerEpoch);
    for (const step of [0, 3, 7, 8, 15]) {
      const whole = single.batchAt(step);
      const parts = ranks.map((r) => r.batchAt(step));
      expect(parts.flatMap((p) => Array.from(p.indices))).toEqual(Array.from(whole.indices));
      expect(parts.flatMap((p) => Array.from(p.labels))).toEqual(Array.from(whole.labels));
      const images = new Float32Array(whole.images.length);
      parts.forEach((p, r) => images.set(p.images, r * p.images.length));
      expect(Buffer.from(images.buffer).equals(Buffer.from(whole.images.buffer))).toBe(true);
      // Disjoint: no example twice in one global batch.
      expect(new Set(whole.indices).size).toBe(12);
    }
  });

  test('shard(i, t): part i of every batch as a loader of its own, bit for bit, also of a rank of several; typed refusals', () => {
    const base: DataLoaderOptions = { batch: 12, seed: 4, shuffle: true, augment, dropLast: true, normalize: { mean: [0.3], std: [0.7] } };
    // A loader of one rank, and rank 1 of a world of 2 (composition: its parts are ranks 2 and 3 of 4).
    for (const whole of [new DataLoader(ds, base), new DataLoader(ds, { ...base, batch: 6, rank: 1, worldSize: 2 })]) {
      for (const t of [1, 2, 3]) {
        const parts = Array.from({ length: t }, (_, i) => whole.shard(i, t));
        expect(parts[0]!.batch).toBe(whole.batch / t);
        expect(parts[0]!.globalBatch).toBe(whole.globalBatch);
        expect(parts[0]!.stepsPerEpoch).toBe(whole.stepsPerEpoch);
        for (const step of [0, 5, 11]) {
          const w = whole.batchAt(step);
          const ps = parts.map((p) => p.batchAt(step));
          expect(ps.flatMap((p) => Array.from(p.indices))).toEqual(Array.from(w.indices));
          expect(ps.flatMap((p) => Array.from(p.labels))).toEqual(Array.from(w.labels));
          const images = new Float32Array(w.images.length);
          ps.forEach((p, i) => images.set(p.images, i * p.images.length));
          // Same augmentation and the same (non-default) normalization: the same bytes.
          expect(Buffer.from(images.buffer).equals(Buffer.from(w.images.buffer))).toBe(true);
        }
      }
    }
    const l = new DataLoader(ds, base);
    expect(() => l.shard(0, 5)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT', message: expect.stringContaining('a divisor of the batch (12)') }));
    expect(() => l.shard(2, 2)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT', message: expect.stringContaining('shard index must be in [0, 2)') }));
    expect(() => l.shard(0, 0)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
  });

  test('evaluation over ranks, padded: the ranks\' valid rows cover every example exactly once', () => {
    const worldSize = 4;
    const loaders = Array.from({ length: worldSize }, (_, rank) => new DataLoader(ds, { batch: 7, seed: 0, shuffle: false, dropLast: false, rank, worldSize }));
    const steps = loaders[0]!.stepsPerEpoch;
    expect(steps).toBe(Math.ceil(90 / 28));
    const covered: number[] = [];
    for (let s = 0; s < steps; s++) {
      for (const l of loaders) {
        const b = l.batchAt(s);
        expect(b.size).toBe(7);
        covered.push(...b.indices.subarray(0, b.valid));
      }
    }
    expect(covered).toEqual(Array.from({ length: 90 }, (_, i) => i));
  });
});

describe('DataLoader evaluation order and the last batch', () => {
  const ds = randomDataset(4, 23, [3, 3, 2]);

  test('no shuffle: the data set\'s order; the padded last batch keeps its size and repeats the first examples', () => {
    const loader = new DataLoader(ds, { batch: 5, seed: 1, shuffle: false, dropLast: false });
    expect(loader.stepsPerEpoch).toBe(5);
    for (let s = 0; s < 4; s++) {
      const b = loader.batchAt(s);
      expect(Array.from(b.indices)).toEqual([0, 1, 2, 3, 4].map((j) => s * 5 + j));
      expect([b.size, b.valid]).toEqual([5, 5]);
    }
    const last = loader.batchAt(4);
    expect(Array.from(last.indices)).toEqual([20, 21, 22, 0, 1]);
    expect([last.size, last.valid]).toEqual([5, 3]);
    expect(last.images.length).toBe(5 * 18);
    // The next epoch starts over in the same order.
    expect(Array.from(loader.batchAt(5).indices)).toEqual([0, 1, 2, 3, 4]);
  });

  test('lastBatch short: the last batch holds only the real rows', () => {
    const loader = new DataLoader(ds, { batch: 5, seed: 1, shuffle: false, dropLast: false, lastBatch: 'short' });
    const last = loader.batchAt(4);
    expect(Array.from(last.indices)).toEqual([20, 21, 22]);
    expect([last.size, last.valid, last.images.length, last.labels.length]).toEqual([3, 3, 3 * 18, 3]);
  });

  test('a global batch larger than the data set: padding wraps around as often as needed', () => {
    const loader = new DataLoader(ds, { batch: 50, seed: 1, shuffle: false, dropLast: false });
    const b = loader.batchAt(0);
    expect(b.valid).toBe(23);
    expect(Array.from(b.indices)).toEqual(Array.from({ length: 50 }, (_, i) => i % 23));
  });

  test('without augmentation every row is (x / 255 - mean) / std of its example', () => {
    const loader = new DataLoader(ds, { batch: 4, seed: 2, shuffle: true, dropLast: true });
    const b = loader.batchAt(3);
    for (let j = 0; j < 4; j++) {
      expect(Array.from(b.images.subarray(j * 18, (j + 1) * 18))).toEqual(Array.from(referenceRow(ds, b.indices[j]!, { shiftX: 0, shiftY: 0, flip: false }, 0)));
    }
  });

  test('normalize: the given statistics replace the data set\'s', () => {
    const stats = { mean: [0.5, 0.25], std: [0.125, 2] };
    const loader = new DataLoader(ds, { batch: 4, seed: 2, shuffle: false, dropLast: true, normalize: stats });
    const b = loader.batchAt(1);
    for (let j = 0; j < 4; j++) {
      expect(Array.from(b.images.subarray(j * 18, (j + 1) * 18))).toEqual(
        Array.from(referenceRow(ds, b.indices[j]!, { shiftX: 0, shiftY: 0, flip: false }, 0, { ...ds, ...stats })),
      );
    }
  });
});

describe('augmentation', () => {
  for (const [shape, seed] of [
    [[6, 5, 1], 31],
    [[5, 7, 3], 32],
  ] as [[number, number, number], number][]) {
    test(`crop and flip match the naive pad-crop-mirror reference, [H, W, C] = [${shape}] (seed ${seed})`, () => {
      const ds = randomDataset(seed, 40, shape);
      const padding = 3; // more than W / 2 for some shifts: whole rows and columns of padding
      const loader = new DataLoader(ds, { batch: 8, seed, shuffle: true, augment: { crop: { padding }, flip: true }, dropLast: true });
      const pixels = shape[0] * shape[1] * shape[2];
      const seenShifts = new Set<string>();
      let flips = 0;
      for (let step = 0; step < 25; step++) {
        const b = loader.batchAt(step);
        for (let j = 0; j < 8; j++) {
          const aug = augmentationFor(seed, step, j, { crop: { padding }, flip: true });
          seenShifts.add(`${aug.shiftX},${aug.shiftY}`);
          if (aug.flip) flips++;
          expect(Array.from(b.images.subarray(j * pixels, (j + 1) * pixels))).toEqual(Array.from(referenceRow(ds, b.indices[j]!, aug, padding)));
        }
      }
      expect(flips).toBeGreaterThan(50); // of 200; Binomial(200, 1/2) is 100 +- 7
      expect(flips).toBeLessThan(150);
      expect(seenShifts.size).toBeGreaterThan(40); // of the 49 possible
    });
  }

  test('crop offsets are uniform over [-p, p] in each axis, flips fair, and all independent of each other', () => {
    const p = 2;
    const counts = new Map<string, number>();
    const n = 25000;
    let maxShift = 0;
    for (let i = 0; i < n; i++) {
      const a = augmentationFor(77, Math.floor(i / 128), i % 128, { crop: { padding: p }, flip: true });
      maxShift = Math.max(maxShift, Math.abs(a.shiftX), Math.abs(a.shiftY));
      const key = `${a.shiftX},${a.shiftY},${a.flip}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    // 5 * 5 * 2 = 50 equally likely outcomes, 500 each expected; chi-square with 49 degrees of
    // freedom has mean 49 and standard deviation 9.9: 100 is 5 sigma out.
    expect(maxShift).toBe(p);
    expect(counts.size).toBe(50);
    let chi2 = 0;
    for (const c of counts.values()) chi2 += (c - n / 50) ** 2 / (n / 50);
    expect(chi2).toBeLessThan(100);
  });

  test('flip only, crop only, padding 0: each does exactly its part', () => {
    for (let i = 0; i < 50; i++) {
      const f = augmentationFor(1, i, 0, { flip: true });
      expect([f.shiftX, f.shiftY]).toEqual([0, 0]);
      const c = augmentationFor(1, i, 0, { crop: { padding: 1 } });
      expect(c.flip).toBe(false);
      expect(augmentationFor(1, i, 0, { crop: { padding: 0 } })).toEqual({ shiftX: 0, shiftY: 0, flip: false });
    }
  });

  test('the same example at another step or position is augmented differently (not a per-example constant)', () => {
    const opts = { crop: { padding: 4 }, flip: true };
    const outcomes = new Set<string>();
    for (let s = 0; s < 30; s++) outcomes.add(JSON.stringify(augmentationFor(3, s, 5, opts)));
    expect(outcomes.size).toBeGreaterThan(20);
  });
});

describe('prefetch', () => {
  const ds = randomDataset(5, 64, [8, 8, 1]);

  test('batch s + 1 is built while the consumer awaits its asynchronous step on batch s', async () => {
    const loader = new DataLoader(ds, { batch: 8, seed: 1, shuffle: true, augment, dropLast: true });
    const events: string[] = [];
    const original = loader.batchAt.bind(loader);
    jest.spyOn(loader, 'batchAt').mockImplementation((step: number, reuse?: Batch) => {
      events.push(`build ${step}`);
      return original(step, reuse);
    });
    // A stand-in for a native training step: work finishing on another thread a little later.
    const trainingStep = (b: Batch) =>
      new Promise<void>((resolve) => {
        events.push(`start ${b.step}`);
        setTimeout(() => {
          events.push(`end ${b.step}`);
          resolve();
        }, 5);
      });
    for await (const b of loader.batches({ steps: 4 })) await trainingStep(b);
    expect(events).toEqual([
      'build 0',
      'start 0',
      'build 1',
      'end 0',
      'start 1',
      'build 2',
      'end 1',
      'start 2',
      'build 3',
      'end 2',
      'start 3',
      'end 3',
    ]);
  });

  test('prefetch(step) resolves to batchAt(step); stopping early leaves no unhandled rejection', async () => {
    const loader = new DataLoader(ds, { batch: 8, seed: 2, shuffle: true, dropLast: true });
    sameBatch(await loader.prefetch(5), loader.batchAt(5));
    let n = 0;
    for await (const b of loader.batches({ from: 3, steps: 100 })) {
      expect(b.step).toBe(3 + n);
      if (++n === 2) break;
    }
    await new Promise((r) => setImmediate(r));
  });

  test('batchAt(step, reuse) fills the given batch in place with the same contents', () => {
    const loader = new DataLoader(ds, { batch: 8, seed: 2, shuffle: true, augment, dropLast: true });
    const first = loader.batchAt(0);
    const images = first.images;
    const again = loader.batchAt(9, first);
    expect(again).toBe(first);
    expect(again.images).toBe(images);
    sameBatch(again, new DataLoader(ds, { batch: 8, seed: 2, shuffle: true, augment, dropLast: true }).batchAt(9));
  });

  test('assembly speed: 128 28x28 images with crop and flip, against a plain byte-to-float loop (printed)', () => {
    const big = randomDataset(6, 1024, [28, 28, 1], 10);
    const loader = new DataLoader(big, { batch: 128, seed: 1, shuffle: true, augment: { crop: { padding: 4 }, flip: true }, dropLast: true });
    // The peer: the same rows gathered and normalized by the simplest loop, with no augmentation.
    const peer = (b: Batch, out: Float32Array): void => {
      const m = big.mean[0]!;
      const sd = big.std[0]!;
      for (let j = 0; j < 128; j++) {
        const src = b.indices[j]! * 784;
        for (let i = 0; i < 784; i++) out[j * 784 + i] = (big.images[src + i]! / 255 - m) / sd;
      }
    };
    let reuse = loader.batchAt(0);
    const peerOut = new Float32Array(128 * 784);
    for (let s = 1; s < 50; s++) {
      reuse = loader.batchAt(s, reuse); // warm up the JIT
      peer(reuse, peerOut);
    }
    const n = 300;
    const t0 = performance.now();
    for (let s = 0; s < n; s++) reuse = loader.batchAt(s, reuse);
    const ours = (performance.now() - t0) / n;
    const t1 = performance.now();
    for (let s = 0; s < n; s++) peer(reuse, peerOut);
    const plain = (performance.now() - t1) / n;
    const t2 = performance.now();
    for (let s = 0; s < n; s++) loader.batchAt(s);
    const fresh = (performance.now() - t2) / n;
    console.log(
      `DataLoader: 128x28x28x1 with crop+flip: ${(ours * 1000).toFixed(0)} us per batch reusing buffers, ` +
        `${(fresh * 1000).toFixed(0)} us allocating; plain byte-to-float loop of the same rows ${(plain * 1000).toFixed(0)} us ` +
        `(ratio ${(plain / ours).toFixed(2)}x)`,
    );
    expect(reuse.size).toBe(128);
  });
});

describe('DataLoader errors', () => {
  const ds = randomDataset(7, 10, [2, 2, 1]);

  function invalidField(fn: () => unknown): string {
    const e = thrownBy(fn) as Vit22bError;
    expect(isVit22bError(e, 'ERR_INVALID_ARGUMENT')).toBe(true);
    return e.details.field as string;
  }

  test('bad options name their field', () => {
    const ok: DataLoaderOptions = { batch: 2, seed: 0, shuffle: true, dropLast: true };
    expect(invalidField(() => new DataLoader(ds, { ...ok, batch: 0 }))).toBe('batch');
    expect(invalidField(() => new DataLoader(ds, { ...ok, batch: 2.5 }))).toBe('batch');
    expect(invalidField(() => new DataLoader(ds, { ...ok, seed: -1 }))).toBe('seed');
    expect(invalidField(() => new DataLoader(ds, { ...ok, rank: 2, worldSize: 2 }))).toBe('rank');
    expect(invalidField(() => new DataLoader(ds, { ...ok, worldSize: 0 }))).toBe('worldSize');
    expect(invalidField(() => new DataLoader(ds, { ...ok, augment: { crop: { padding: -1 } } }))).toBe('augment.crop.padding');
    expect(invalidField(() => new DataLoader(ds, { ...ok, lastBatch: 'wrap' as 'pad' }))).toBe('lastBatch');
    expect(invalidField(() => new DataLoader(ds, { ...ok, normalize: { mean: [0.5, 0.5], std: [1, 1] } }))).toBe('normalize');
    expect(invalidField(() => new DataLoader(ds, { ...ok, normalize: { mean: [0.5], std: [0] } }))).toBe('normalize.std');
    expect(invalidField(() => new DataLoader(ds, { ...ok, shuffle: undefined as unknown as boolean }))).toBe('shuffle');
  });

  test('a data set smaller than one global batch with dropLast', () => {
    const e = thrownBy(() => new DataLoader(ds, { batch: 4, worldSize: 3, seed: 0, shuffle: true, dropLast: true })) as Vit22bError;
    expect(isVit22bError(e, 'ERR_INVALID_ARGUMENT')).toBe(true);
    expect(e.received).toBe('12');
    expect(new DataLoader(ds, { batch: 4, worldSize: 3, seed: 0, shuffle: true, dropLast: false }).stepsPerEpoch).toBe(1);
  });

  test('bad steps', () => {
    const loader = new DataLoader(ds, { batch: 2, seed: 0, shuffle: true, dropLast: true });
    expect(invalidField(() => loader.batchAt(-1))).toBe('step');
    expect(invalidField(() => loader.batchAt(1.5))).toBe('step');
    expect(invalidField(() => loader.prefetch(Number.NaN))).toBe('step');
  });

  test('a malformed data set: sizes that disagree, a label out of range', () => {
    const ok: DataLoaderOptions = { batch: 2, seed: 0, shuffle: true, dropLast: true };
    expect(invalidField(() => new DataLoader({ ...ds, images: ds.images.subarray(1) }, ok))).toBe('images');
    expect(invalidField(() => new DataLoader({ ...ds, labels: ds.labels.subarray(1) }, ok))).toBe('labels');
    const labels = Int32Array.from(ds.labels);
    labels[6] = 7;
    const e = thrownBy(() => new DataLoader({ ...ds, labels }, ok)) as Vit22bError;
    expect(isVit22bError(e, 'ERR_INVALID_ARGUMENT')).toBe(true);
    expect(e.details).toMatchObject({ field: 'labels', index: 6, received: '7' });
  });
});
