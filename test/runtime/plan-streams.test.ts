// Plans with several streams: instructions run in each stream's order, and an instruction that
// waits on an event starts only after the instruction recording it, whichever stream that is on
// and wherever the streams sit in the plan. Slots start with sentinel values, so an instruction run
// too early reads them and gives a visibly different result.
import { openDevice, type Device, type PlanInstruction } from '../../lib';
import { planOf, slotView } from '../helpers/plan-builder';
import { thrownBy } from '../helpers/errors';
import type { Vit22bError } from '../../lib/runtime/errors';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => {
  expect(device.stats()).toEqual({ liveBuffers: 0, liveBytes: 0, reclaimedByGc: 0 });
  device.dispose();
});

const n = 4;
const A = slotView(1, 4 * n), B = slotView(2, 4 * n), C = slotView(3, 4 * n), X = { slot: 0, offset: 0, bytes: 4 * n };

/** y = alpha x + beta y over the n f32 of two views. */
function axpby(alpha: number, x: object, beta: number, y: object, note: string, events: Partial<PlanInstruction> = {}): PlanInstruction {
  return { kernel: 'axpby', spec: { dtype: 'f32', n, alpha, x, beta, y }, note, ...events };
}

async function runWithSlots(streams: PlanInstruction[][], events: number, x: number[]): Promise<number[][]> {
  using a = device.tensor('f32', [n], new Float32Array([1, 2, 3, 4]));
  using b = device.tensor('f32', [n], new Float32Array(n).fill(1000));
  using c = device.tensor('f32', [n], new Float32Array(n).fill(-1000));
  using loaded = device.loadPlan(planOf({ arena: 64, slots: [16, 16, 16], streams, events, inputs: [X] }), [a, b, c]);
  await loaded.run([new Float32Array(x)]);
  return [a, b, c].map((t) => Array.from(t.download()));
}

describe('events between streams', () => {
  test('stream 0 waits on stream 1: its instruction runs after stream 1 records', async () => {
    // c = b after b = 2a; run too early, c would be 1000.
    const s0 = [axpby(1, B, 0, C, 'c = b', { wait: [0] })];
    const s1 = [axpby(2, A, 0, B, 'b = 2a', { record: 0 })];
    const [, b, c] = await runWithSlots([s0, s1], 1, [0, 0, 0, 0]);
    expect(b).toEqual([2, 4, 6, 8]);
    expect(c).toEqual([2, 4, 6, 8]);
  });

  test('a round trip: stream 0 -> stream 1 -> stream 0, in either stream order', async () => {
    // a += x (record 0); stream 1: b = 2a after 0 (record 1); stream 0: c = 3b after 1, then c += a.
    const s0 = [
      axpby(1, X, 1, A, 'a += x', { record: 0 }),
      axpby(3, B, 0, C, 'c = 3b', { wait: [1] }),
      axpby(1, A, 1, C, 'c += a'),
    ];
    const s1 = [axpby(2, A, 0, B, 'b = 2a', { wait: [0], record: 1 })];
    const x = [10, 20, 30, 40];
    const a = [11, 22, 33, 44];
    const expected = [a, a.map((v) => 2 * v), a.map((v) => 7 * v)];
    expect(await runWithSlots([s0, s1], 2, x)).toEqual(expected);
    expect(await runWithSlots([s1, s0], 2, x)).toEqual(expected);
  });

  test('a diamond over three streams, with two waits on one instruction', async () => {
    // s0: a += x (e0). s1: b = a after e0 (e1). s2: c = 2a after e0 (e2). s0: c += b after e1, e2.
    const streams = [
      [axpby(1, X, 1, A, 'a += x', { record: 0 }), axpby(1, B, 1, C, 'c += b', { wait: [2, 1] })],
      [axpby(1, A, 0, B, 'b = a', { wait: [0], record: 1 })],
      [axpby(2, A, 0, C, 'c = 2a', { wait: [0], record: 2 })],
    ];
    const [a, b, c] = await runWithSlots(streams, 3, [1, 1, 1, 1]);
    expect(a).toEqual([2, 3, 4, 5]);
    expect(b).toEqual([2, 3, 4, 5]);
    expect(c).toEqual([6, 9, 12, 15]);
  });

  test('streams without events keep their own order and all run', async () => {
    const s0 = [axpby(1, X, 1, A, 'a += x'), axpby(2, A, 0, A, 'a *= 2')];
    const s1 = [axpby(0, X, 0, B, 'b = 0'), axpby(1, X, 1, B, 'b += x')];
    const [a, b] = await runWithSlots([s0, s1, []], 0, [1, 2, 3, 4]);
    expect(a).toEqual([4, 8, 12, 16]);
    expect(b).toEqual([1, 2, 3, 4]);
  });
});

describe('races between streams are refused at load', () => {
  test('stream 1 reading what stream 0 writes, without an event, is ERR_INVALID_PLAN naming both; with the event it loads', () => {
    using a = device.tensor('f32', [n], new Float32Array([1, 2, 3, 4]));
    using b = device.tensor('f32', [n], new Float32Array(n));
    using c = device.tensor('f32', [n], new Float32Array(n));
    const racy = [[axpby(2, A, 0, B, 'b = 2a')], [axpby(1, B, 0, C, 'c = b')]];
    const e = thrownBy(() => device.loadPlan(planOf({ arena: 64, slots: [16, 16, 16], streams: racy, events: 0 }), [a, b, c])) as Vit22bError;
    expect(e.code).toBe('ERR_INVALID_PLAN');
    expect(e.message).toMatch(/stream 0 instruction 0 \('b = 2a'\) and stream 1 instruction 0 \('c = b'\) touch the same bytes of slot 2, the first writing/);
    const ordered = [[axpby(2, A, 0, B, 'b = 2a', { record: 0 })], [axpby(1, B, 0, C, 'c = b', { wait: [0] })]];
    using ok = device.loadPlan(planOf({ arena: 64, slots: [16, 16, 16], streams: ordered, events: 1 }), [a, b, c]);
    expect(ok.instructions).toBe(2);
    // Two streams reading the same bytes is no race.
    const reads = [[axpby(1, A, 0, B, 'b = a')], [axpby(1, A, 0, C, 'c = a')]];
    using both = device.loadPlan(planOf({ arena: 64, slots: [16, 16, 16], streams: reads, events: 0 }), [a, b, c]);
    expect(both.instructions).toBe(2);
  });
});
