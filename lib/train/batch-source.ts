/**
 * What the trainer reads batches from. lib/data's DataLoader has this shape; any object that does
 * can feed a Trainer (a test's fixed batches, a custom stream).
 */
import type { Session } from '../runtime/session';

export interface SourceBatch {
  /** [size, H, W, C], normalized. */
  images: Float32Array;
  /** [size] class ids. */
  labels: Int32Array;
  /** Rows in this batch (the loader's batch size unless it is a short last batch). */
  size?: number;
  /** The first `valid` rows are real examples (a padded last batch repeats some); default all. */
  valid?: number;
}

export interface BatchSource {
  /** Examples per batch. */
  readonly batch: number;
  readonly stepsPerEpoch: number;
  readonly dataset: { readonly imageShape: readonly [number, number, number]; readonly size: number; readonly numClasses?: number };
  /** The batch of data step `step` (from 0); deterministic in the step. */
  batchAt(step: number): SourceBatch | Promise<SourceBatch>;
  /**
   * Optional: part `index` of `count` of every batch (its rows [index * batch/count, ...)) as a
   * source of its own. A trainer over processes (MPI, NCCL) reads only its data coordinate's part
   * when its source has this (DataLoader does); without it, every process reads whole batches and
   * cuts its part.
   */
  shard?(index: number, count: number): BatchSource;
}

/**
 * What a process of a session reads from `source`: over processes (MPI, NCCL), its data
 * coordinate's shard when the source can give one and the batch divides over the data axis;
 * otherwise undefined (it reads whole batches, and the program cuts its rows).
 */
export function processShard(source: BatchSource, session: Pick<Session, 'multiProcess' | 'shape' | 'localCoordinates'>): BatchSource | undefined {
  const t = session.shape.data;
  if (!session.multiProcess || !source.shard || source.batch % t !== 0) return undefined;
  return source.shard(session.localCoordinates(0).data, t);
}

/** `source.batchAt(step)` as a promise that never rejects unobserved (a prefetch may be dropped). */
export function fetchBatch(source: BatchSource, step: number): Promise<SourceBatch> {
  let p: Promise<SourceBatch>;
  try {
    p = Promise.resolve(source.batchAt(step));
  } catch (e) {
    p = Promise.reject(e);
  }
  p.catch(() => undefined);
  return p;
}
