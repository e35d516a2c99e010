/**
 * Evaluation of a program's current parameters on a whole test set, in forward mode: top-1 (and
 * top-5) accuracy from the model's `accuracy` output (hit counts) and the mean of its `loss`. A
 * padded last batch is cut to its real rows, so every example counts exactly once (the program
 * compiles one more shape variant for it).
 */
import type { Program } from '../graph/program';
import { Vit22bError } from '../runtime/errors';
import { fetchBatch, type BatchSource } from './batch-source';

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
  let next = fetchBatch(source, 0);
  for (let s = 0; s < source.stepsPerEpoch; ++s) {
    const batch = await next;
    const size = batch.labels.length;
    const rows = Math.min(batch.valid ?? size, size);
    if (rows === 0) {
      if (s + 1 < source.stepsPerEpoch) next = fetchBatch(source, s + 1);
      continue;
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
    const pending = program.run(inputs, scalars, { mode: 'forward' });
    if (s + 1 < source.stepsPerEpoch) next = fetchBatch(source, s + 1);
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
    lossSum += (out.loss as Float32Array)[0]! * rows;
    examples += rows;
  }
  if (examples === 0) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', 'the test set yielded no examples', { expected: 'at least one example', received: '0' });
  }
  return { testAccuracy: top1 / examples, ...(hasTop5 ? { testTop5: top5 / examples } : {}), testLoss: lossSum / examples, examples };
}
