/**
 * A tiny learnable image task and a model for it, for the trainer's tests (they do not depend on
 * lib/data or lib/model): 8x8x1 images, 4 classes, class q has a bright 4x4 quadrant q over noise.
 * `poison` makes chosen data steps NaN, for the non-finite tests.
 */
import type { GraphBuilder } from '../../lib/graph/builder';
import type { Shape } from '../../lib/graph/types';
import type { BatchSource, SourceBatch } from '../../lib/train/batch-source';
import { mulberry32 } from './prng';

export const TOY_SHAPE = [8, 8, 1] as const;

export function toyExample(index: number, seed: number, out: Float32Array, offset: number): number {
  const rng = mulberry32(seed * 7919 + index);
  const label = index % 4;
  for (let y = 0; y < 8; ++y) {
    for (let x = 0; x < 8; ++x) {
      const q = (y >= 4 ? 2 : 0) + (x >= 4 ? 1 : 0);
      out[offset + y * 8 + x] = (q === label ? 1 : 0) + 0.8 * (rng() - 0.5);
    }
  }
  return label;
}

export interface ToySourceOptions {
  batch: number;
  size: number;
  seed: number;
  /** Data steps whose batches hold a NaN. */
  poison?: readonly number[];
  /** Keep the last short batch (evaluation) instead of wrapping around. */
  evaluation?: boolean;
}

export function toySource(o: ToySourceOptions): BatchSource & { calls: number[] } {
  const calls: number[] = [];
  const stepsPerEpoch = o.evaluation ? Math.ceil(o.size / o.batch) : Math.floor(o.size / o.batch);
  return {
    batch: o.batch,
    stepsPerEpoch,
    dataset: { imageShape: TOY_SHAPE, size: o.size, numClasses: 4 },
    calls,
    batchAt(step: number): SourceBatch {
      calls.push(step);
      const epochStep = step % stepsPerEpoch;
      const first = epochStep * o.batch;
      const rows = o.evaluation ? Math.min(o.batch, o.size - first) : o.batch;
      const images = new Float32Array(rows * 64);
      const labels = new Int32Array(rows);
      // A different permutation-free order per epoch: shift by the epoch so batches vary.
      const epoch = Math.floor(step / stepsPerEpoch);
      for (let j = 0; j < rows; ++j) labels[j] = toyExample((first + j + (o.evaluation ? 0 : epoch * 3)) % o.size, o.seed, images, j * 64);
      if (o.poison?.includes(step)) images[3] = NaN;
      return { images, labels, size: rows, valid: rows };
    },
  };
}

/** images [B, 8, 8, 1] -> flatten -> dense(32) -> gelu -> dense(4); loss and top-1/top-2 hits. */
export function toyModel(b: GraphBuilder, shapes: Record<string, Shape>): void {
  const batch = shapes.images![0]!;
  const x = b.reshape(b.compute(b.input('images', [batch, 8, 8, 1])), [batch, 64]);
  const w1 = b.param('hidden/w', [64, 32], { init: { dist: 'normal', std: 0.125 } });
  const h = b.gelu(b.dense(x, w1, b.param('hidden/b', [32])));
  const logits = b.dense(h, b.param('head/w', [32, 4], { init: { dist: 'normal', std: 0.1 } }), b.param('head/b', [4]));
  const labels = b.input('labels', [batch], 'i32');
  b.output('loss', b.softmaxCrossEntropy(logits, labels));
  b.output('accuracy', b.topkAccuracy(logits, labels, 2));
}
