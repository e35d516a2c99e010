/**
 * evaluate() over processes, against a stand-in program (the multi-process runs themselves are in
 * test/comm/mpi-training.test.ts): each full test batch is read as this process's data shard and run
 * with shard: true, its rows counted as the global batch's; the last batch is read whole; a shard
 * with padding rows before the last batch is a typed error. One process reads whole batches.
 */
import type { Program } from '../../lib/graph/program';
import type { BatchSource, SourceBatch } from '../../lib/train/batch-source';
import { evaluate } from '../../lib/train/evaluate';
import { rejectionOf } from '../helpers/errors';

function batchOf(rows: number, valid = rows): SourceBatch {
  return { images: new Float32Array(rows).fill(0.25), labels: Int32Array.from({ length: rows }, (_, i) => i % 3), size: rows, valid };
}

/** 3 batches of 4 (the last one short: 2 rows); shard(i, t) gives rows of 4/t (padded if asked). */
function source(log: string[], shardValid?: number): BatchSource {
  const whole: BatchSource = {
    batch: 4,
    stepsPerEpoch: 3,
    dataset: { imageShape: [1, 1, 1], size: 10 },
    batchAt: (s) => {
      log.push(`whole ${s}`);
      return batchOf(s === 2 ? 2 : 4);
    },
    shard: (i, t) => ({
      ...whole,
      batch: 4 / t,
      batchAt: (s) => {
        log.push(`shard ${i}/${t} ${s}`);
        return batchOf(4 / t, shardValid);
      },
    }),
  };
  return whole;
}

/** A program whose step reports 1 hit and loss 0.5 for whatever it is given, recording how it was fed. */
function program(multiProcess: boolean, runs: string[]): Program {
  return {
    session: { multiProcess, shape: { data: 2, model: 1 }, localCoordinates: () => ({ rank: 1, data: 1, model: 0 }) },
    run: async (inputs: { labels: { shape: number[] } }, _s: unknown, o: { shard?: boolean }) => {
      runs.push(`${inputs.labels.shape[0]} rows${o.shard ? ' (shard)' : ''}`);
      return { accuracy: Int32Array.from([1]), loss: Float32Array.from([0.5]) };
    },
  } as unknown as Program;
}

test('over processes: shards of the full batches (their rows count t times), the last batch whole', async () => {
  const log: string[] = [], runs: string[] = [];
  const r = await evaluate(program(true, runs), source(log));
  expect(log).toEqual(['shard 1/2 0', 'shard 1/2 1', 'whole 2']);
  expect(runs).toEqual(['2 rows (shard)', '2 rows (shard)', '2 rows']);
  expect(r).toEqual({ testAccuracy: 3 / 10, testLoss: 0.5, examples: 10 });
});

test('one process: whole batches, no shard asked for', async () => {
  const log: string[] = [], runs: string[] = [];
  const r = await evaluate(program(false, runs), source(log));
  expect(log).toEqual(['whole 0', 'whole 1', 'whole 2']);
  expect(runs).toEqual(['4 rows', '4 rows', '2 rows']);
  expect(r.examples).toBe(10);
});

test('a shard with padding rows before the last batch is ERR_INVALID_ARGUMENT', async () => {
  const e = await rejectionOf(evaluate(program(true, []), source([], 1)));
  expect(e).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', message: 'test batch 0 is a shard with padding rows, which only the last batch of an epoch may have', expected: '2 real rows', received: '1' });
});
