/**
 * Evaluation of a program's current parameters on a whole test set, in forward mode: top-1 (and
 * top-5) accuracy from the model's `accuracy` output (hit counts) and the mean of its `loss`. A
 * padded last batch is cut to its real rows, so every example counts exactly once (the program
 * compiles one more shape variant for it).
 *
 * Over processes (MPI, NCCL), each process reads only its data shard of every full batch when the
 * source can say which (BatchSource.shard), as the trainer does; the last batch of the epoch, which
 * may be short or padded, is read whole and cut by every process.
 */
import type { Program } from '../graph/program';
import { Vit22bError } from '../runtime/errors';
import { fetchBatch, processShard, type BatchSource } from './batch-source';

export interface EvalResult {
  testAccuracy: number;
  testTop5?: number;
  testLoss: number;
  examples: number;
}

export async function evaluate(program: Program, source: BatchSource, scalars: Record<string, number> = {}): Promise<EvalResult> {
  const [h, w, c] = source.dataset.imageShape;
  const pixels = h * w * c;
  let top1 = 0, top5 = 0, lossSum = 0, examples = 0;
  let hasTop5 = false;
  const t = program.session.shape.data;
  const shards = processShard(source, program.session);
  const last = source.stepsPerEpoch - 1;
  // Step s's batch: this process's shard of a full one, or the whole (last) one.
  const fetch = (s: number) => (shards && s < last ? fetchBatch(shards, s) : fetchBatch(source, s));
  let next = fetch(0);
  for (let s = 0; s < source.stepsPerEpoch; ++s) {
    const batch = await next;
    const shard = shards !== undefined && s < last;
    const size = batch.labels.length;
    const rows = Math.min(batch.valid ?? size, size);
    if (rows === 0) {
      if (s + 1 < source.stepsPerEpoch) next = fetch(s + 1);
      continue;
    }
    if (shard && rows < size) {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', `test batch ${s} is a shard with padding rows, which only the last batch of an epoch may have`, {
        expected: `${size} real rows`,
        received: String(rows),
      });
    }
    if (batch.images.length !== size * pixels) {
      throw new Vit22bError('ERR_SHAPE_MISMATCH', `test batch ${s} has the wrong number of pixels`, {
        expected: `${size} x ${h}x${w}x${c} = ${size * pixels}`,
        received: String(batch.images.length),
      });
    }
    const inputs = {
      images: { data: rows < size ? batch.images.subarray(0, rows * pixels) : batch.images, shape: [rows, h, w, c] },
      labels: { data: rows < size ? batch.labels.subarray(0, rows) : batch.labels, shape: [rows] },
    };
    const pending = program.run(inputs, scalars, { mode: 'forward', shard });
    if (s + 1 < source.stepsPerEpoch) next = fetch(s + 1);
    const out = await pending;
    const acc = out.accuracy as Int32Array | undefined;
    if (!acc) {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', "evaluation needs the model's 'accuracy' output (top-1 hits)", {
        expected: 'an accuracy output (i32 [1] or [2])',
        received: Object.keys(out).join(', '),
      });
    }
    top1 += acc[0]!;
    if (acc.length > 1) {
      hasTop5 = true;
      top5 += acc[1]!;
    }
    // The outputs are the global batch's: a shard's rows are 1/t of it.
    const globalRows = shard ? rows * t : rows;
    lossSum += (out.loss as Float32Array)[0]! * globalRows;
    examples += globalRows;
  }
  if (examples === 0) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', 'the test set yielded no examples', { expected: 'at least one example', received: '0' });
  }
  return { testAccuracy: top1 / examples, ...(hasTop5 ? { testTop5: top5 / examples } : {}), testLoss: lossSum / examples, examples };
}
