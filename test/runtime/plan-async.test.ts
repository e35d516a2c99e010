// A plan step runs off the JavaScript thread: timers fire while it runs, and the device refuses
// everything that would race it (ERR_DEVICE_BUSY) until the step's promise settles. The GC frees
// a forgotten plan's arena (in a child process, where gc() can be called).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { openDevice, Vit22bError, type Device, type DeviceTensor, type LoadedPlan, type PlanInstruction } from '../../lib';
import { rejectionOf, thrownBy } from '../helpers/errors';
import { REPO_ROOT } from '../helpers/paths';
import { ArenaLayout, planOf } from '../helpers/plan-builder';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => {
  expect(device.stats()).toEqual({ liveBuffers: 0, liveBytes: 0, reclaimedByGc: 0 });
  device.dispose();
});

/** A step of `reps` 384^3 f32 GEMMs: long enough (tens of ms or more) to act on while it runs. */
function longPlan(reps: number): LoadedPlan {
  const s = 384;
  const arena = new ArenaLayout();
  const a = arena.view(s * s * 4), b = arena.view(s * s * 4), c = arena.view(s * s * 4);
  const gemm: PlanInstruction = {
    kernel: 'gemm',
    spec: {
      abType: 'f32', cType: 'f32', transA: false, transB: false, m: s, n: s, k: s, batch: 1, alpha: 1,
      beta: 0, a, lda: s, strideA: 0, b, ldb: s, strideB: 0, c, ldc: s, strideC: 0,
    },
  };
  return device.loadPlan(planOf({ arena, streams: [Array(reps).fill(gemm)], inputs: [a, b], outputs: [{ ...c, bytes: 16 }] }));
}

const ones = (): Float32Array[] => [new Float32Array(384 * 384).fill(1), new Float32Array(384 * 384).fill(0.5)];

function busyCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as Vit22bError).code;
  }
  return undefined;
}

describe('while a step runs', () => {
  test('the JavaScript thread is free: timers fire, and see the device busy', async () => {
    using plan = longPlan(100);
    let ticks = 0, busyTicks = 0;
    const timer = setInterval(() => {
      ticks++;
      if (busyCode(() => device.synchronize()) === 'ERR_DEVICE_BUSY') busyTicks++;
    }, 1);
    const started = Date.now();
    const [out] = await plan.run(ones());
    const elapsed = Date.now() - started;
    clearInterval(timer);
    expect(Array.from(new Float32Array(out!))).toEqual([192, 192, 192, 192]); // 384 * 1 * 0.5
    expect(busyTicks).toBeGreaterThan(0);
    expect(ticks).toBeGreaterThanOrEqual(busyTicks);
    expect(elapsed).toBeGreaterThan(0);
    expect(busyCode(() => device.synchronize())).toBeUndefined(); // idle again once settled
  });

  test('every call that touches the device is ERR_DEVICE_BUSY, and works again after the await', async () => {
    using plan = longPlan(20);
    using other = device.loadPlan(planOf({ arena: 64, streams: [[]] }));
    using x = device.tensor('f32', [4], new Float32Array([1, 2, 3, 4]));
    using y = device.tensor('f32', [4], new Float32Array([1, 1, 1, 1]));
    using m = device.tensor('f32', [2, 2], new Float32Array([1, 2, 3, 4]));
    using mc = device.alloc('f32', [2, 2]);
    const running = plan.run(ones());
    let spare: DeviceTensor | undefined;
    try {
      const refused: [string, () => unknown][] = [
        ['axpby', () => device.axpby(1, x, 1, y)],
        ['launch', () => device.native.launch('cast', { from: 'f32', to: 'f32', n: 4, x: x.buffer, y: y.buffer })],
        ['gemm', () => device.gemm(m, m, mc)],
        ['upload', () => x.upload(new Float32Array(4))],
        ['download', () => x.download()],
        ['buffer dispose', () => y.dispose()],
        ['synchronize', () => device.synchronize()],
        ['device dispose', () => device.dispose()],
        ['loadPlan', () => device.loadPlan(planOf({ arena: 64, streams: [[]] }))],
        ['plan dispose (this plan)', () => plan.dispose()],
        ['plan dispose (another plan)', () => other.dispose()],
      ];
      for (const [what, call] of refused) {
        const e = thrownBy(call);
        expect([what, e instanceof Vit22bError && e.code]).toEqual([what, 'ERR_DEVICE_BUSY']);
      }
      const again = thrownBy(() => device.axpby(1, x, 1, y)) as Vit22bError;
      expect(again.message).toMatch(/plan step is running.*await the run\(\) promise/);
      expect(again).toMatchObject({ expected: 'an idle device', received: 'a plan step in flight' });
      // Runs are refused as rejections, this plan's and another's.
      for (const p of [plan.run(ones()), other.run([])]) expect(await rejectionOf(p)).toMatchObject({ code: 'ERR_DEVICE_BUSY' });
      // Reading statistics and allocating are harmless.
      expect(device.stats().liveBuffers).toBeGreaterThan(0);
      spare = device.alloc('f32', [4]);
    } finally {
      await running; // whatever failed above, leave the device idle for the disposals
    }
    device.axpby(1, x, 1, y);
    expect(Array.from(y.download())).toEqual([2, 3, 4, 5]);
    device.gemm(m, m, mc);
    expect(Array.from(mc.download())).toEqual([7, 10, 15, 22]);
    spare!.dispose();
    await other.run([]);
  });

  test('busy is per device: another device works during the step', async () => {
    using plan = longPlan(10);
    using second = openDevice({ device: 'cpu' });
    using x = second.tensor('f32', [2], new Float32Array([1, 2]));
    using y = second.tensor('f32', [2], new Float32Array([3, 4]));
    const running = plan.run(ones());
    try {
      second.axpby(2, x, 1, y);
      expect(Array.from(y.download())).toEqual([5, 8]);
    } finally {
      await running;
    }
  });

  test('a failed step clears the busy mark too', async () => {
    const arena = new ArenaLayout();
    const v = arena.view(16);
    using plan = device.loadPlan(planOf({
      arena, streams: [[{ kernel: 'axpby', spec: { dtype: 'f32', n: 4, alpha: { scalar: 0 }, x: v, beta: 1, y: v } }]], scalars: 1,
    }));
    expect(await rejectionOf(plan.run([], [NaN]))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    expect(busyCode(() => device.synchronize())).toBeUndefined();
    await plan.run([], [1]);
  });
});

// Runs in a child `node --expose-gc` on the built package: loads plans, forgets them, collects.
const GC_SCRIPT = `
const { openDevice } = require(process.env.VIT22B_DIST);
const device = openDevice({ device: 'cpu' });
const slot = device.tensor('f32', [4], new Float32Array([1, 2, 3, 4]));
const plan = (bytes) => ({ version: 1, arenaBytes: bytes, slotBytes: [bytes, 16], events: 0, scalars: 0,
  streams: [[]], inputs: [], outputs: [{ slot: 1, offset: 0, bytes: 16 }] });
(function forget() {
  for (let i = 0; i < 8; i++) device.loadPlan(plan(1000 + i), [slot]);
})();
const loaded = device.stats();
const tick = () => new Promise((r) => setImmediate(r));
(async () => {
  for (let round = 0; round < 50 && device.stats().liveBuffers > 1; round++) {
    gc();
    await tick();
    await new Promise((r) => setTimeout(r, 5));
  }
  const collected = device.stats();
  // The slot tensor survived its plans and still works.
  const values = Array.from(slot.download());
  slot.dispose();
  console.log(JSON.stringify({ loaded, collected, values, final: device.stats() }));
})();
`;

describe('the garbage-collector backstop', () => {
  test('a forgotten plan frees its arena when collected, and counts as reclaimed', () => {
    const dist = path.join(REPO_ROOT, 'dist', 'index.js');
    if (!fs.existsSync(dist)) throw new Error('dist/ is missing: run `npx tsup` before these tests');
    const r = spawnSync(process.execPath, ['--expose-gc', '-e', GC_SCRIPT], {
      encoding: 'utf8',
      env: { ...process.env, VIT22B_DIST: dist },
      timeout: 60_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    const arenas = 8 * 1000 + 28; // 1000 + ... + 1007
    expect(out.loaded).toEqual({ liveBuffers: 9, liveBytes: 16 + arenas, reclaimedByGc: 0 });
    expect(out.collected).toEqual({ liveBuffers: 1, liveBytes: 16, reclaimedByGc: 8 });
    expect(out.values).toEqual([1, 2, 3, 4]);
    expect(out.final).toEqual({ liveBuffers: 0, liveBytes: 0, reclaimedByGc: 8 });
  });
});
