/**
 * Batches for training and evaluation, addressed by global step.
 *
 * Step s belongs to epoch e = floor(s / stepsPerEpoch). Epoch e visits the examples in a
 * permutation drawn from (seed, e) (identity without shuffle); step s takes the next
 * `batch * worldSize` of them (the global batch), and rank r takes the r-th run of `batch`. Each
 * example's augmentation comes from (seed, s, its position in the global batch). Nothing depends on
 * the batches built before, so `batchAt(k)` on a fresh loader equals the k-th batch of a long run:
 * a resumed run sees exactly the batches it would have seen, on any number of ranks.
 *
 * The last, incomplete global batch of an epoch is dropped (`dropLast: true`, for training), or
 * kept (`dropLast: false`, for evaluation). A kept one is padded by default (`lastBatch: 'pad'`):
 * the batch keeps its full size, so a compiled program's shapes never change, its first `valid`
 * rows are real and the rest repeat examples from the start of the epoch's order (so they are
 * valid inputs; count only the first `valid` rows). With `lastBatch: 'short'` it holds only the
 * real rows instead.
 */
import { Vit22bError } from '../runtime/errors';
import { augmentationFor, IDENTITY_AUGMENTATION, normalizationTable, writeExample, type AugmentOptions } from './augment';
import { checkDataset, type Dataset } from './dataset';
import { hashWords, Mulberry32, permutation, STREAM } from './seeded-random';
import { requireObject } from '../runtime/arg-checks';

export interface DataLoaderOptions {
  /** Examples per rank per step. The global batch is batch * worldSize. */
  batch: number;
  seed: number;
  /** A new random order every epoch (training) or the data set's order (evaluation). */
  shuffle: boolean;
  augment?: AugmentOptions;
  /** This process's data-parallel rank, in [0, worldSize). */
  rank?: number;
  worldSize?: number;
  /** Drop the last incomplete global batch of each epoch (training) or keep it (evaluation). */
  dropLast: boolean;
  /** How a kept last batch is shaped: padded to full size (default) or short. */
  lastBatch?: 'pad' | 'short';
  /**
   * Statistics to normalize with instead of the data set's own: pass the training set's when
   * evaluating, so test images are transformed exactly like training images.
   */
  normalize?: { mean: readonly number[]; std: readonly number[] };
}

export interface Batch {
  /** The global step this batch belongs to, and its epoch. */
  step: number;
  epoch: number;
  /** [B, H, W, C], normalized ((x / 255 - mean) / std), augmented. */
  images: Float32Array;
  /** [B] class ids. */
  labels: Int32Array;
  /** [B] the examples' indices in the data set. */
  indices: Int32Array;
  /** B, the rows in this batch (the per-rank batch size except for a short last batch). */
  size: number;
  /** Rows that are real examples: `size`, except in a padded last batch. */
  valid: number;
}

function invalid(field: string, expected: string, received: unknown): Vit22bError {
  return new Vit22bError('ERR_INVALID_ARGUMENT', `DataLoader: ${field} must be ${expected}, got ${String(received)}`, {
    field,
    expected,
    received: String(received),
  });
}

function checkInteger(field: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw invalid(field, min === 0 ? 'a non-negative integer' : `an integer >= ${min}`, value);
  }
  return value;
}

export class DataLoader {
  readonly dataset: Dataset;
  readonly batch: number;
  readonly seed: number;
  readonly shuffle: boolean;
  readonly rank: number;
  readonly worldSize: number;
  readonly dropLast: boolean;
  readonly lastBatch: 'pad' | 'short';
  readonly augment: Readonly<AugmentOptions>;
  /** batch * worldSize. */
  readonly globalBatch: number;
  readonly stepsPerEpoch: number;
  private readonly lut: Float32Array;
  private readonly augmenting: boolean;
  /** The normalization asked for (for shard()). */
  private readonly normalizeOption: DataLoaderOptions['normalize'];
  /** The last two epochs' orders: a prefetch may already be in the next epoch. */
  private readonly orders = new Map<number, Uint32Array>();

  constructor(dataset: Dataset, options: DataLoaderOptions) {
    requireObject(dataset, 'DataLoader dataset', 'a Dataset');
    requireObject(options, 'DataLoader options', '{ batch, seed, ... }');
    checkDataset(dataset);
    this.dataset = dataset;
    this.batch = checkInteger('batch', options.batch, 1);
    this.seed = checkInteger('seed', options.seed, 0);
    this.worldSize = checkInteger('worldSize', options.worldSize ?? 1, 1);
    this.rank = checkInteger('rank', options.rank ?? 0, 0);
    if (this.rank >= this.worldSize) throw invalid('rank', `in [0, ${this.worldSize})`, this.rank);
    if (typeof options.shuffle !== 'boolean') throw invalid('shuffle', 'true or false', options.shuffle);
    if (typeof options.dropLast !== 'boolean') throw invalid('dropLast', 'true or false', options.dropLast);
    this.shuffle = options.shuffle;
    this.dropLast = options.dropLast;
    const lastBatch = options.lastBatch ?? 'pad';
    if (lastBatch !== 'pad' && lastBatch !== 'short') throw invalid('lastBatch', "'pad' or 'short'", lastBatch);
    this.lastBatch = lastBatch;

    const augment = options.augment ?? {};
    if (augment.crop !== undefined) checkInteger('augment.crop.padding', augment.crop.padding, 0);
    if (augment.flip !== undefined && typeof augment.flip !== 'boolean') throw invalid('augment.flip', 'true or false', augment.flip);
    this.augment = { ...augment };
    this.augmenting = (augment.crop?.padding ?? 0) > 0 || augment.flip === true;

    const channels = dataset.imageShape[2];
    this.normalizeOption = options.normalize;
    const norm = options.normalize ?? { mean: dataset.mean, std: dataset.std };
    if (norm.mean.length !== channels || norm.std.length !== channels) {
      throw invalid('normalize', `${channels} means and standard deviations (one per channel)`, `${norm.mean.length} and ${norm.std.length}`);
    }
    for (const s of norm.std) if (!(s > 0 && Number.isFinite(s))) throw invalid('normalize.std', 'positive and finite', s);
    for (const m of norm.mean) if (!Number.isFinite(m)) throw invalid('normalize.mean', 'finite', m);
    this.lut = normalizationTable(norm.mean, norm.std);

    this.globalBatch = this.batch * this.worldSize;
    const n = dataset.size;
    this.stepsPerEpoch = this.dropLast ? Math.floor(n / this.globalBatch) : Math.ceil(n / this.globalBatch);
    if (this.stepsPerEpoch === 0) {
      throw new Vit22bError(
        'ERR_INVALID_ARGUMENT',
        `DataLoader: '${dataset.name}' has ${n} examples, fewer than one global batch of ${this.globalBatch}` +
          (n > 0 ? ' (use dropLast: false or a smaller batch)' : ''),
        { field: 'batch', expected: `a global batch of at most ${n} examples`, received: String(this.globalBatch) },
      );
    }
  }

  epochOf(step: number): number {
    return Math.floor(step / this.stepsPerEpoch);
  }

  /** The order of the data set's examples in epoch `epoch` (identity without shuffle). */
  epochOrder(epoch: number): Uint32Array {
    checkInteger('epoch', epoch, 0);
    let order = this.orders.get(epoch);
    if (order === undefined) {
      const n = this.dataset.size;
      if (this.shuffle) {
        order = permutation(n, new Mulberry32(hashWords(STREAM.epochOrder, this.seed, epoch)));
      } else {
        order = new Uint32Array(n);
        for (let i = 0; i < n; i++) order[i] = i;
      }
      if (this.orders.size >= 2) this.orders.delete(this.orders.keys().next().value!);
      this.orders.set(epoch, order);
    }
    return order;
  }

  /**
   * This rank's batch of global step `step`. Pass a batch this loader returned before as `reuse`
   * to fill its buffers instead of allocating (when the size matches); that batch's old contents
   * are then gone.
   */
  /**
   * Part `index` of `count` of every batch, as a loader of its own: rows [index * batch/count,
   * (index+1) * batch/count) of each of this loader's batches, bit for bit (the same examples,
   * augmented alike, since augmentation follows the position in the global batch). What one process
   * of a multi-process run reads: the rows of its data coordinate, and no others.
   */
  shard(index: number, count: number): DataLoader {
    checkInteger('shard count', count, 1);
    checkInteger('shard index', index, 0);
    if (index >= count) throw invalid('shard index', `in [0, ${count})`, index);
    if (this.batch % count !== 0) throw invalid('shard count', `a divisor of the batch (${this.batch})`, count);
    return new DataLoader(this.dataset, {
      batch: this.batch / count,
      seed: this.seed,
      shuffle: this.shuffle,
      augment: this.augment,
      rank: this.rank * count + index,
      worldSize: this.worldSize * count,
      dropLast: this.dropLast,
      lastBatch: this.lastBatch,
      ...(this.normalizeOption ? { normalize: this.normalizeOption } : {}),
    });
  }

  batchAt(step: number, reuse?: Batch): Batch {
    checkInteger('step', step, 0);
    const ds = this.dataset;
    const [h, w, c] = ds.imageShape;
    const pixels = h * w * c;
    const n = ds.size;
    const epoch = this.epochOf(step);
    const order = this.epochOrder(epoch);
    // Global position of this rank's first row within the epoch's order.
    const first = (step - epoch * this.stepsPerEpoch) * this.globalBatch + this.rank * this.batch;
    const valid = Math.max(0, Math.min(this.batch, n - first));
    const size = this.lastBatch === 'short' ? valid : this.batch;

    let batch: Batch;
    if (reuse !== undefined && reuse.images.length === size * pixels && reuse.labels.length === size) {
      batch = reuse;
      batch.step = step;
      batch.epoch = epoch;
      batch.size = size;
      batch.valid = valid;
    } else {
      batch = {
        step,
        epoch,
        images: new Float32Array(size * pixels),
        labels: new Int32Array(size),
        indices: new Int32Array(size),
        size,
        valid,
      };
    }
    const { images, labels, indices } = batch;
    const positionBase = first - this.rank * this.batch; // the global batch's first position
    for (let j = 0; j < size; j++) {
      const p = first + j;
      // Past the end (padding only): wrap around to the start of the epoch's order.
      const index = order[p < n ? p : p % n]!;
      indices[j] = index;
      labels[j] = ds.labels[index]!;
      const aug = this.augmenting
        ? augmentationFor(this.seed, step, p - positionBase, this.augment)
        : IDENTITY_AUGMENTATION;
      writeExample(ds.images, index * pixels, h, w, c, this.lut, aug, images, j * pixels);
    }
    return batch;
  }

  /**
   * Builds batch `step` on the next turn of the event loop, i.e. while the caller awaits something
   * else, such as a training step running on a native worker thread.
   */
  prefetch(step: number): Promise<Batch> {
    checkInteger('step', step, 0);
    return new Promise((resolve, reject) => {
      setImmediate(() => {
        try {
          resolve(this.batchAt(step));
        } catch (e) {
          reject(e);
        }
      });
    });
  }

  /**
   * Batches `from`, `from + 1`, ... (`steps` of them; one epoch's worth by default). Batch s + 1 is
   * built while the consumer awaits its work on batch s, so with an asynchronous training step the
   * assembly costs the step no time. Each batch is a new object the consumer may keep.
   */
  async *batches(options: { from?: number; steps?: number } = {}): AsyncGenerator<Batch, void, undefined> {
    const from = checkInteger('from', options.from ?? 0, 0);
    const steps = checkInteger('steps', options.steps ?? this.stepsPerEpoch, 0);
    if (steps === 0) return;
    const end = from + steps;
    let pending = this.prefetch(from);
    try {
      for (let s = from; s < end; s++) {
        const batch = await pending;
        if (s + 1 < end) pending = this.prefetch(s + 1);
        yield batch;
      }
    } finally {
      // A consumer that stops early leaves one batch in flight; nobody will await it.
      pending.catch(() => undefined);
    }
  }
}
