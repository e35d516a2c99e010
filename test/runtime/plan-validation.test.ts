// Plans that cannot run are refused with typed errors that say where (stream, instruction, note,
// field) and what: at load (ERR_INVALID_PLAN, or the kernel's own code for a bad spec), or at run
// (wrong inputs, disposed slots). Most go through the raw native loadPlan, below the TypeScript
// shape check, to prove the native validation; nothing may crash the process or leak an arena.
import { openDevice, Vit22bError, type Device, type NativePlan, type PlanInstruction } from '../../lib';
import { rejectionOf, thrownBy } from '../helpers/errors';
import { ArenaLayout, planOf, slotView } from '../helpers/plan-builder';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => {
  expect(device.stats()).toEqual({ liveBuffers: 0, liveBytes: 0, reclaimedByGc: 0 });
  device.dispose();
});

/** y += x over 4 f32 in the arena: [x | y] at offsets 0 and 64. */
function axpby(note?: string, extra: Partial<PlanInstruction> = {}): PlanInstruction {
  const x = { slot: 0, offset: 0, bytes: 16 }, y = { slot: 0, offset: 64, bytes: 16 };
  return { kernel: 'axpby', spec: { dtype: 'f32', n: 4, alpha: 1, x, beta: 1, y }, ...(note ? { note } : {}), ...extra };
}

/** Loads through the native handle (no TypeScript checks) and returns what it threw. */
function nativeLoadError(plan: unknown, slots: unknown[] = []): Vit22bError {
  const before = device.stats();
  const e = thrownBy(() => (device.native.loadPlan as (p: unknown, s: unknown) => unknown)(plan, slots.map((t) => (t as { buffer: unknown }).buffer ?? t)));
  expect(e).toBeInstanceOf(Vit22bError);
  expect(device.stats()).toEqual(before); // a failed load frees what it allocated
  return e as Vit22bError;
}

const good = (): NativePlan => planOf({ arena: 128, streams: [[axpby('add')]] });

describe('plan structure (ERR_INVALID_PLAN)', () => {
  test('the good plan loads (the baseline for the variations below)', () => {
    device.loadPlan(good()).dispose();
  });

  test.each<[string, (p: NativePlan) => unknown, string, string?]>([
    ['version 2', (p) => ({ ...p, version: 2 }), 'version', '2'],
    ['a missing version', (p) => ({ ...p, version: undefined }), 'version', 'undefined'],
    ['arenaBytes -1', (p) => ({ ...p, arenaBytes: -1 }), 'arenaBytes', '-1'],
    ['arenaBytes 1.5', (p) => ({ ...p, arenaBytes: 1.5 }), 'arenaBytes', '1.5'],
    ['slotBytes[0] other than arenaBytes', (p) => ({ ...p, slotBytes: [64] }), 'slotBytes[0]', '64'],
    ['no slotBytes', (p) => ({ ...p, slotBytes: [] }), 'slotBytes[0]', 'no slots'],
    ['streams that are not an array', (p) => ({ ...p, streams: {} }), 'streams', 'object'],
    ['no stream at all', (p) => ({ ...p, streams: [] }), 'streams', '0'],
    ['an instruction that is not an object', (p) => ({ ...p, streams: [[7]] }), 'streams[0][0]', 'number'],
    ['a kernel that is not a string', (p) => ({ ...p, streams: [[{ ...axpby(), kernel: 3 }]] }), 'kernel', 'number'],
    ['a missing spec', (p) => ({ ...p, streams: [[{ kernel: 'axpby' }]] }), 'streams[0][0].spec', 'undefined'],
    ['inputs that are not views', (p) => ({ ...p, inputs: [5] }), 'inputs[0]', 'number'],
    ['a view with a negative offset', (p) => ({ ...p, outputs: [{ slot: 0, offset: -4, bytes: 4 }] }), 'outputs[0].offset', '-4'],
  ])('%s', (_, mutate, field, received) => {
    const e = nativeLoadError(mutate(good()));
    expect(e.code).toBe('ERR_INVALID_PLAN');
    expect(e.message).toContain(`${field}:`);
    if (received !== undefined) expect(e.received).toBe(received);
  });

  test('an unknown kernel names the instruction, its note and the known kernels', () => {
    const e = nativeLoadError(planOf({ arena: 128, streams: [[axpby(), { ...axpby('fc1/bogus'), kernel: 'matmul' }]] }));
    expect(e.code).toBe('ERR_INVALID_PLAN');
    expect(e.message).toContain("stream 0, instruction 1 ('fc1/bogus'): kernel: unknown kernel 'matmul'");
    expect(e.received).toBe('matmul');
    expect(e.expected).toContain('gemm');
    expect(e.expected).toContain('clip_scale');
  });
});

describe('views (ERR_INVALID_PLAN)', () => {
  test('an instruction view past the end of its slot', () => {
    const y = { slot: 0, offset: 120, bytes: 16 };
    const ins = { ...axpby('resid'), spec: { ...axpby().spec, y } };
    const e = nativeLoadError(planOf({ arena: 128, streams: [[ins]] }));
    expect(e.code).toBe('ERR_INVALID_PLAN');
    expect(e.message).toContain("stream 0, instruction 0 ('resid'): spec.y: the view ends past slot 0 (128 bytes)");
    expect(e.expected).toBe('offset + bytes <= 128');
    expect(e.received).toBe('offset 120 + bytes 16');
  });

  test('an offset of 2^60 is outside the slot, not wrapped around', () => {
    const e = nativeLoadError({ ...good(), inputs: [{ slot: 0, offset: 2 ** 60, bytes: 16 }] });
    expect(e.code).toBe('ERR_INVALID_PLAN');
    expect(e.message).toContain('inputs[0]');
    expect(e.received).toBe(`offset ${2n ** 60n} + bytes 16`);
  });

  test('offset + bytes that overflow 64 bits', () => {
    const offset = 2 ** 64 - 2048; // exact in a double
    const ins = { ...axpby(), spec: { ...axpby().spec, x: { slot: 0, offset, bytes: 4096 } } };
    const e = nativeLoadError(planOf({ arena: 128, streams: [[ins]] }));
    expect(e.code).toBe('ERR_INVALID_PLAN');
    expect(e.received).toBe(`offset ${2n ** 64n - 2048n} + bytes 4096`);
    // And 2^64 itself cannot be an offset at all.
    const e2 = nativeLoadError({ ...good(), outputs: [{ slot: 0, offset: 2 ** 64, bytes: 0 }] });
    expect(e2).toMatchObject({ code: 'ERR_INVALID_PLAN', expected: 'an integer in [0, 2^64)' });
  });

  test('a view of a slot that does not exist', () => {
    const ins = { ...axpby(), spec: { ...axpby().spec, x: { slot: 3, offset: 0, bytes: 16 } } };
    const e = nativeLoadError(planOf({ arena: 128, streams: [[ins]] }));
    expect(e).toMatchObject({ code: 'ERR_INVALID_PLAN', expected: 'a slot index below 1', received: '3' });
    expect(e.message).toContain('spec.x.slot');
  });

  test('a view too small for the kernel keeps the kernel\'s code, prefixed with the location', () => {
    const ins = { ...axpby('small'), spec: { ...axpby().spec, n: 8 } };
    const e = nativeLoadError(planOf({ arena: 128, streams: [[axpby(), ins]] }));
    expect(e.code).toBe('ERR_SHAPE_MISMATCH');
    expect(e.message).toBe("stream 0, instruction 1 ('small'): axpby operand x is too small for the given shape");
    expect(e.expected).toBe('>= 32 bytes (8 f32)');
    expect(e.received).toBe('16 bytes');
  });

  test('an output overlapping an input view of the same slot is an alias; a disjoint one is not', () => {
    const a = { slot: 0, offset: 0, bytes: 64 }, b = { slot: 0, offset: 64, bytes: 64 };
    const cast = (x: object, y: object): PlanInstruction => ({ kernel: 'cast', spec: { from: 'f32', to: 'f32', n: 16, x, y }, note: 'copy' });
    device.loadPlan(planOf({ arena: 128, streams: [[cast(a, b)]] })).dispose();
    const e = nativeLoadError(planOf({ arena: 128, streams: [[cast(a, { slot: 0, offset: 32, bytes: 64 })]] }));
    expect(e.code).toBe('ERR_INVALID_ARGUMENT');
    expect(e.message).toContain("stream 0, instruction 0 ('copy'): cast output y");
    expect(e.received).toBe('overlapping views (slot 0 [32, 96) and slot 0 [0, 64))');
  });

  test('a slot given twice is one memory: views through both slots alias', () => {
    using t = device.alloc('f32', [16]);
    const ins: PlanInstruction = { kernel: 'cast', spec: { from: 'f32', to: 'f32', n: 16, x: slotView(1, 64), y: slotView(2, 64) } };
    const e = nativeLoadError(planOf({ arena: 0, slots: [64, 64], streams: [[ins]] }), [t, t]);
    expect(e).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', received: 'overlapping views (slot 2 [0, 64) and slot 1 [0, 64))' });
  });

  test('{ scalar: i } beyond the plan\'s scalar count', () => {
    const ins = { ...axpby('scaled'), spec: { ...axpby().spec, alpha: { scalar: 2 } } };
    const e = nativeLoadError(planOf({ arena: 128, streams: [[ins]], scalars: 2 }));
    expect(e).toMatchObject({ code: 'ERR_INVALID_PLAN', received: '2' });
    expect(e.message).toContain("stream 0, instruction 0 ('scaled'): spec.alpha.scalar");
  });

  test('a dynamic scalar where the kernel takes only numbers', () => {
    const ins: PlanInstruction = { kernel: 'clip_scale', spec: { norm: { slot: 0, offset: 0, bytes: 4 }, maxNorm: { scalar: 0 }, scale: { slot: 0, offset: 64, bytes: 4 } } };
    const e = nativeLoadError(planOf({ arena: 128, streams: [[ins]], scalars: 1 }));
    expect(e).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', expected: 'number', received: 'object' });
  });
});

describe('events (ERR_INVALID_PLAN)', () => {
  const two = (s0: PlanInstruction[], s1: PlanInstruction[], events: number): NativePlan =>
    planOf({ arena: 128, streams: [s0, s1], events });

  test('a wait on an event out of range', () => {
    const e = nativeLoadError(two([axpby('a', { wait: [0, 5] })], [axpby('b', { record: 0 })], 2));
    expect(e).toMatchObject({ code: 'ERR_INVALID_PLAN', expected: 'an event id in [0, 2)', received: '5' });
    expect(e.message).toContain("stream 0, instruction 0 ('a'): wait[1]");
  });

  test('a record out of range', () => {
    const e = nativeLoadError(two([axpby('a', { record: 1 })], [], 1));
    expect(e).toMatchObject({ code: 'ERR_INVALID_PLAN', received: '1' });
    expect(e.message).toContain('record: no such event');
  });

  test('an event recorded twice', () => {
    const e = nativeLoadError(two([axpby('a', { record: 0 })], [axpby('b', { record: 0 })], 1));
    expect(e.code).toBe('ERR_INVALID_PLAN');
    expect(e.message).toContain("stream 1, instruction 0 ('b'): record: event 0 is already recorded by stream 0, instruction 0 ('a')");
  });

  test('a wait on an event that nothing records', () => {
    const e = nativeLoadError(two([axpby('a', { wait: [1] })], [axpby('b', { record: 0 })], 2));
    expect(e.code).toBe('ERR_INVALID_PLAN');
    expect(e.message).toContain('which no instruction records');
  });

  test('a declared event that is never recorded', () => {
    const e = nativeLoadError(two([axpby('a', { record: 0 })], [], 2));
    expect(e.code).toBe('ERR_INVALID_PLAN');
    expect(e.message).toContain('events: event 1 is never recorded');
  });

  test('a deadlock across two streams is refused, naming a blocked instruction', () => {
    // Stream 0 waits for stream 1's second instruction, which waits for stream 0's second.
    const e = nativeLoadError(two(
      [axpby('s0 first', { wait: [1] }), axpby('s0 second', { record: 0 })],
      [axpby('s1 first'), axpby('s1 second', { wait: [0], record: 1 })],
      2,
    ));
    expect(e.code).toBe('ERR_INVALID_PLAN');
    expect(e.message).toContain("stream 0, instruction 0 ('s0 first'): wait: deadlock: waits on event 1, recorded by stream 1, instruction 1 ('s1 second')");
  });

  test('a wait on an event recorded later on the same stream deadlocks', () => {
    const e = nativeLoadError(planOf({ arena: 128, streams: [[axpby('early', { wait: [0] }), axpby('late', { record: 0 })]], events: 1 }));
    expect(e.code).toBe('ERR_INVALID_PLAN');
    expect(e.message).toContain('deadlock');
  });
});

describe('slots', () => {
  test('slotBytes that do not match the buffer given', () => {
    using t = device.alloc('f32', [8]);
    const e = nativeLoadError(planOf({ arena: 128, slots: [64], streams: [[axpby()]] }), [t]);
    expect(e).toMatchObject({ code: 'ERR_INVALID_PLAN', expected: '64 bytes', received: 'a buffer of 32 bytes' });
    expect(e.message).toContain('slotBytes[1]');
  });

  test('more or fewer buffers than the plan has slots', () => {
    using t = device.alloc('f32', [8]);
    expect(nativeLoadError(planOf({ arena: 128, slots: [32, 32], streams: [[]] }), [t])).toMatchObject({
      code: 'ERR_INVALID_PLAN', expected: '2 buffers (slots 1..2)', received: '1 buffers',
    });
    expect(nativeLoadError(planOf({ arena: 128, streams: [[]] }), [t])).toMatchObject({ code: 'ERR_INVALID_PLAN' });
  });

  test('a disposed slot buffer at load is ERR_DISPOSED; a buffer of another device ERR_DEVICE_MISMATCH', () => {
    const t = device.alloc('f32', [8]);
    t.dispose();
    expect(nativeLoadError(planOf({ arena: 0, slots: [32], streams: [[]] }), [t]).code).toBe('ERR_DISPOSED');
    using other = openDevice({ device: 'cpu' });
    using foreign = other.alloc('f32', [8]);
    expect(nativeLoadError(planOf({ arena: 0, slots: [32], streams: [[]] }), [foreign]).code).toBe('ERR_DEVICE_MISMATCH');
    expect(nativeLoadError(planOf({ arena: 0, slots: [32], streams: [[]] }), [{}]).code).toBe('ERR_INVALID_ARGUMENT');
  });

  test('a slot buffer disposed after load makes run() reject with ERR_DISPOSED', async () => {
    const t = device.tensor('f32', [4], new Float32Array([1, 2, 3, 4]));
    using loaded = device.loadPlan(planOf({ arena: 0, slots: [16], streams: [[]], outputs: [slotView(1, 16)] }), [t]);
    expect(Array.from(new Float32Array((await loaded.run([]))[0]!))).toEqual([1, 2, 3, 4]);
    t.dispose();
    const e = await rejectionOf(loaded.run([]));
    expect(e).toMatchObject({ code: 'ERR_DISPOSED', received: 'slot 1 disposed' });
  });
});

describe('run() arguments (rejections)', () => {
  const arena = new ArenaLayout();
  const x = arena.view(16), y = arena.view(16);
  const plan = planOf({
    arena, streams: [[{ kernel: 'axpby', spec: { dtype: 'f32', n: 4, alpha: { scalar: 0 }, x, beta: 0, y } }]],
    inputs: [x], outputs: [y], scalars: 1,
  });

  test.each<[string, unknown[], unknown, string, string, string]>([
    ['no inputs', [], [1], 'ERR_INVALID_ARGUMENT', '1 inputs', '0'],
    ['two inputs', [new Float32Array(4), new Float32Array(4)], [1], 'ERR_INVALID_ARGUMENT', '1 inputs', '2'],
    ['an input of the wrong size', [new Float32Array(5)], [1], 'ERR_SHAPE_MISMATCH', '16 bytes', '20 bytes'],
    ['an input that is not binary', [[1, 2, 3, 4]], [1], 'ERR_INVALID_ARGUMENT', 'TypedArray | DataView | ArrayBuffer', 'object'],
    ['no scalars', [new Float32Array(4)], [], 'ERR_INVALID_ARGUMENT', '1 scalars', '0'],
    ['a scalar that is a string', [new Float32Array(4)], ['1'], 'ERR_INVALID_ARGUMENT', 'number', 'string'],
    ['inputs that are not an array', new Float32Array(4) as unknown as unknown[], [1], 'ERR_INVALID_ARGUMENT', 'an array of 1 ArrayBufferViews', 'object'],
  ])('%s', async (_, inputs, scalars, code, expected, received) => {
    using loaded = device.loadPlan(plan);
    const e = await rejectionOf((loaded.run as (i: unknown, s: unknown) => Promise<unknown>)(inputs, scalars));
    expect(e).toBeInstanceOf(Vit22bError);
    expect(e).toMatchObject({ code, expected, received });
    // Rejected without running: the device is not left busy.
    const [out] = await loaded.run([new Float32Array([1, 2, 3, 4])], [3]);
    expect(Array.from(new Float32Array(out!))).toEqual([3, 6, 9, 12]);
  });

  test('any ArrayBufferView or ArrayBuffer of the right size is an input', async () => {
    using loaded = device.loadPlan(plan);
    const bytes = new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer);
    for (const input of [bytes, new DataView(bytes.buffer), bytes.buffer]) {
      const [out] = await loaded.run([input as ArrayBufferView], [1]);
      expect(Array.from(new Float32Array(out!))).toEqual([1, 2, 3, 4]);
    }
  });
});

describe('the TypeScript shape check', () => {
  test.each<[string, unknown]>([
    ['null', null],
    ['version 2', { ...good(), version: 2 }],
    ['streams missing', { ...good(), streams: undefined }],
    ['a stream that is not an array', { ...good(), streams: [{}] }],
    ['inputs missing', { ...good(), inputs: undefined }],
  ])('%s is ERR_INVALID_PLAN before any native call', (_, plan) => {
    expect(thrownBy(() => device.loadPlan(plan as NativePlan))).toMatchObject({ code: 'ERR_INVALID_PLAN' });
  });

  test('slots that are not DeviceTensors are ERR_INVALID_ARGUMENT', () => {
    expect(thrownBy(() => device.loadPlan(good(), [{} as never]))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', expected: 'DeviceTensor' });
  });
});

describe('rank-relative views (PlanView.rank, resolved when a device loads the plan)', () => {
  const ranked = (rank: unknown): NativePlan => {
    const x = { slot: 0, offset: 0, bytes: 16, rank }, y = { slot: 0, offset: 64, bytes: 16 };
    return planOf({ arena: 128, streams: [[{ kernel: 'axpby', spec: { dtype: 'f32', n: 4, alpha: 1, x, beta: 1, y }, note: 'ranked' }]] });
  };
  test('a device outside a mesh is rank 0 of an axis of 1: shift 0 of ranks 1 loads', () => {
    device.loadPlan(ranked({ axis: 'model', ranks: 1, shift: 0, step: 16 })).dispose();
  });
  test.each<[string, unknown, string]>([
    ['ranks other than the axis size', { axis: 'model', ranks: 2, shift: 0, step: 16 }, 'spec.x.rank.ranks'],
    ['an unknown axis', { axis: 'pipe', ranks: 1, shift: 0, step: 16 }, 'spec.x.rank.axis'],
    ['a negative step', { axis: 'data', ranks: 1, shift: 0, step: -16 }, 'spec.x.rank.step'],
    ['not an object', 3, 'spec.x.rank'],
  ])('%s is ERR_INVALID_PLAN naming the field', (_what, rank, field) => {
    const e = nativeLoadError(ranked(rank));
    expect(e.code).toBe('ERR_INVALID_PLAN');
    expect(e.message).toContain(field);
  });
});
