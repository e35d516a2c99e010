// The raw native addons, as lib/runtime/addon-loader loads them: every bad argument must come back
// as a typed Vit22bError (never a crash), the two addons' CPU backends must agree bit for bit, and
// the GC must reclaim forgotten buffers (in a child process, where gc() can be called).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

import { addonAttempts, addonCandidates, tryLoadAddon, type LoadedAddon } from '../../lib/runtime/addon-loader';
import { Vit22bError } from '../../lib/runtime/errors';
import type { NativeAddon, NativeBuffer, NativeDevice } from '../../lib/runtime/native-types';
import { thrownBy } from '../helpers/errors';
import { mulberry32, randomBf16BitsArray, randomF32Array, randomScalar } from '../helpers/prng';

function vitError(e: unknown, code: string): Vit22bError {
  expect(e).toBeInstanceOf(Vit22bError);
  expect((e as Vit22bError).code).toBe(code);
  return e as Vit22bError;
}

/** The BufferHandle class, which the addons export but NativeAddon does not declare. */
function bufferClass(addon: NativeAddon): new (...args: unknown[]) => NativeBuffer {
  return (addon as unknown as { BufferHandle: new (...args: unknown[]) => NativeBuffer }).BufferHandle;
}

/** DeviceHandle without the TypeScript signature, to pass it wrong arguments. */
function looseDeviceHandle(addon: NativeAddon): new (...args: unknown[]) => NativeDevice {
  return addon.DeviceHandle as unknown as new (...args: unknown[]) => NativeDevice;
}

function loose(d: NativeDevice): Record<string, (...args: unknown[]) => unknown> {
  return d as unknown as Record<string, (...args: unknown[]) => unknown>;
}

const cpuAddon = tryLoadAddon('cpu');
const cudaFile = addonCandidates('cuda').find((f) => fs.existsSync(f));
const cudaAddon = tryLoadAddon('cuda');
const addons = [cpuAddon, cudaAddon].filter((a): a is LoadedAddon => a !== undefined);


/** axpby through the one kernel path, launch('axpby', spec) (the kernel table's declaration). */
function axpby(d: { launch(kernel: string, spec: object): void }, dtype: unknown, n: unknown, alpha: unknown, x: unknown, beta: unknown, y: unknown): void {
  d.launch('axpby', { dtype, n, alpha, x, beta, y });
}

describe('loading', () => {
  test('the CPU addon loads from the first candidate that exists', () => {
    expect(cpuAddon).toBeDefined();
    expect(cpuAddon!.path).toBe(addonCandidates('cpu').find((f) => fs.existsSync(f)));
    expect(cpuAddon!.native.build.variant).toBe('cpu');
    expect(cpuAddon!.native.cudaProbe).toBeUndefined();
  });

  test('the CUDA addon loads whenever its file exists, and otherwise is reported missing', () => {
    if (cudaFile === undefined) {
      // Built without nvcc: nothing to load, and every candidate says why.
      expect(cudaAddon).toBeUndefined();
      expect(addonAttempts('cuda').map((a) => a.status)).toEqual(['missing', 'missing']);
      return;
    }
    expect(cudaAddon).toBeDefined();
    expect(cudaAddon!.path).toBe(cudaFile);
    expect(cudaAddon!.native.build.variant).toBe('cuda');
    expect(typeof cudaAddon!.native.cudaProbe).toBe('function');
    expect(typeof cudaAddon!.native.loadCublasLt).toBe('function');
    expect(typeof cudaAddon!.native.loadNccl).toBe('function');
  });
});

describe.each(addons)('the $variant addon', (addon) => {
  const native = addon.native;
  let dev: NativeDevice;
  beforeEach(() => {
    dev = new native.DeviceHandle('cpu', 0);
  });
  afterEach(() => {
    dev.dispose();
  });

  describe('DeviceHandle', () => {
    test("new DeviceHandle('tpu', 0) is ERR_INVALID_ARGUMENT naming the kind", () => {
      const e = vitError(thrownBy(() => new (looseDeviceHandle(native))('tpu', 0)), 'ERR_INVALID_ARGUMENT');
      expect(e.received).toBe('tpu');
      expect(e.expected).toContain('cpu');
      expect(e.expected).toContain('cuda');
    });

    test('a kind that is not a string is ERR_INVALID_ARGUMENT naming its type', () => {
      expect(vitError(thrownBy(() => new (looseDeviceHandle(native))(42, 0)), 'ERR_INVALID_ARGUMENT').received).toBe('number');
      expect(vitError(thrownBy(() => new (looseDeviceHandle(native))()), 'ERR_INVALID_ARGUMENT').received).toBe('undefined');
    });

    // 2^32 would wrap to 0 in a 32-bit int and silently open device 0.
    test.each([-1, 0.5, 2 ** 32])('ordinal %p is ERR_INVALID_ARGUMENT', (ordinal) => {
      const e = vitError(thrownBy(() => new native.DeviceHandle('cpu', ordinal)), 'ERR_INVALID_ARGUMENT');
      expect(e.received).toBe(String(ordinal)); // shortest round-trip text: "0.5", not "0.500000"
    });

    test('a CPU device names itself and starts with empty statistics', () => {
      expect(dev.kind).toBe('cpu');
      expect(dev.name).toMatch(/^cpu \(.+\)$/);
      expect(dev.stats()).toEqual({ liveBuffers: 0, liveBytes: 0, reclaimedByGc: 0 });
    });

    test('after dispose(): alloc, synchronize and axpby are ERR_DISPOSED; stats and a second dispose still work', () => {
      const d = new native.DeviceHandle('cpu', 0);
      const b = d.alloc(8);
      d.dispose();
      for (const use of [() => d.alloc(4), () => d.synchronize(), () => axpby(d, 'f32', 2, 1, b, 1, b)]) {
        const e = vitError(thrownBy(use), 'ERR_DISPOSED');
        expect(e.expected).toMatch(/live device/);
        expect(e.received).toMatch(/disposed/);
      }
      // Its buffer outlives it and is still counted until disposed.
      expect(d.stats().liveBuffers).toBe(1);
      b.upload(new Float32Array([1, 2]));
      b.dispose();
      expect(d.stats().liveBuffers).toBe(0);
      d.dispose();
    });
  });

  describe('alloc', () => {
    test.each([-1, 1.5, 2 ** 53 + 2])('alloc(%p) is ERR_INVALID_ARGUMENT with the value received', (bytes) => {
      const e = vitError(thrownBy(() => dev.alloc(bytes)), 'ERR_INVALID_ARGUMENT');
      expect(Number(e.received)).toBe(bytes);
      expect(e.expected).toMatch(/integer/);
    });

    test('alloc(NaN) is ERR_INVALID_ARGUMENT', () => {
      expect(vitError(thrownBy(() => dev.alloc(Number.NaN)), 'ERR_INVALID_ARGUMENT').received).toMatch(/nan/i);
    });

    test.each([
      { arg: 'x', type: 'string' },
      { arg: undefined, type: 'undefined' },
      { arg: 10n, type: 'bigint' },
      { arg: {}, type: 'object' },
    ])('alloc($type) is ERR_INVALID_ARGUMENT naming the type', ({ arg, type }) => {
      const e = vitError(thrownBy(() => loose(dev).alloc!(arg)), 'ERR_INVALID_ARGUMENT');
      expect(e.expected).toBe('number');
      expect(e.received).toBe(type);
    });

    test('alloc(2^52) is ERR_HOST_OOM naming the size, and leaves nothing allocated', () => {
      const e = vitError(thrownBy(() => dev.alloc(2 ** 52)), 'ERR_HOST_OOM');
      expect(e.message).toContain(String(2 ** 52));
      expect(dev.stats()).toEqual({ liveBuffers: 0, liveBytes: 0, reclaimedByGc: 0 });
    });

    test('alloc(0) gives a zero-byte buffer; buffers report their size', () => {
      const z = dev.alloc(0);
      const b = dev.alloc(1031);
      expect([z.bytes, b.bytes]).toEqual([0, 1031]);
      expect(dev.stats()).toMatchObject({ liveBuffers: 2, liveBytes: 1031 });
      z.dispose();
      b.dispose();
      expect(dev.stats()).toMatchObject({ liveBuffers: 0, liveBytes: 0 });
    });

    test('new BufferHandle() is ERR_INVALID_ARGUMENT: buffers come from alloc only', () => {
      for (const args of [[], [{}], [1, 2], [new ArrayBuffer(8)]]) {
        const e = vitError(thrownBy(() => new (bufferClass(native))(...args)), 'ERR_INVALID_ARGUMENT');
        expect(e.expected).toMatch(/alloc/);
      }
    });
  });

  describe('upload and download', () => {
    test('write and read at an offset, with TypedArray, DataView and ArrayBuffer', () => {
      const b = dev.alloc(16);
      b.upload(new Uint8Array(16).fill(0xee));
      b.upload(new Uint8Array([1, 2, 3]), 5);
      b.upload(new DataView(new Uint8Array([9, 8]).buffer), 14);
      const all = new Uint8Array(16);
      b.download(all);
      expect(Array.from(all)).toEqual([0xee, 0xee, 0xee, 0xee, 0xee, 1, 2, 3, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 9, 8]);
      const part = new ArrayBuffer(2);
      b.download(part, 6);
      expect(Array.from(new Uint8Array(part))).toEqual([2, 3]);
      // A view into a larger buffer moves only its own bytes.
      const host = new Uint8Array([100, 101, 102, 103, 104]);
      b.upload(host.subarray(1, 3), 0);
      b.download(all);
      expect(Array.from(all.subarray(0, 3))).toEqual([101, 102, 0xee]);
      b.dispose();
    });

    test('upload past the end is ERR_INVALID_ARGUMENT naming offset, length and capacity', () => {
      const b = dev.alloc(16);
      for (const [len, offset] of [[20, 0], [16, 4], [1, 16], [4, 13]] as const) {
        const e = vitError(thrownBy(() => b.upload(new Uint8Array(len), offset)), 'ERR_INVALID_ARGUMENT');
        expect(e.expected).toContain('16');
        expect(e.received).toMatch(new RegExp(`\\b${offset}\\b.*\\b${len}\\b`));
      }
      b.dispose();
    });

    test('download with an offset too large is ERR_INVALID_ARGUMENT', () => {
      const b = dev.alloc(16);
      for (const [len, offset] of [[1, 17], [4, 13], [0, 2 ** 40]] as const) {
        const e = vitError(thrownBy(() => b.download(new Uint8Array(len), offset)), 'ERR_INVALID_ARGUMENT');
        expect(e.expected).toContain('16');
        expect(e.received).toContain(String(offset));
      }
      b.dispose();
    });

    test('a bad source, target or offset is ERR_INVALID_ARGUMENT', () => {
      const b = dev.alloc(16);
      const lb = b as unknown as Record<string, (...args: unknown[]) => unknown>;
      expect(vitError(thrownBy(() => lb.upload!('abcd')), 'ERR_INVALID_ARGUMENT').received).toBe('string');
      expect(vitError(thrownBy(() => lb.upload!([1, 2, 3])), 'ERR_INVALID_ARGUMENT').received).toBe('object');
      expect(vitError(thrownBy(() => lb.download!(null)), 'ERR_INVALID_ARGUMENT').received).toBe('null');
      expect(Number(vitError(thrownBy(() => b.upload(new Uint8Array(1), -1)), 'ERR_INVALID_ARGUMENT').received)).toBe(-1);
      expect(vitError(thrownBy(() => lb.download!(new Uint8Array(1), '0')), 'ERR_INVALID_ARGUMENT').received).toBe('string');
      b.dispose();
    });

    test('a disposed buffer is ERR_DISPOSED for upload and download; dispose twice is harmless', () => {
      const b = dev.alloc(8);
      b.dispose();
      b.dispose();
      expect(b.disposed).toBe(true);
      vitError(thrownBy(() => b.upload(new Uint8Array(8))), 'ERR_DISPOSED');
      vitError(thrownBy(() => b.download(new Uint8Array(8))), 'ERR_DISPOSED');
      expect(dev.stats().liveBuffers).toBe(0);
    });
  });

  describe('axpby', () => {
    test('with a non-buffer operand is ERR_INVALID_ARGUMENT naming the argument', () => {
      const b = dev.alloc(16);
      const ax = (...args: unknown[]) => (axpby as (...a: unknown[]) => void)(dev, ...args);
      for (const [bad, type] of [[{}, 'object'], [new Float32Array(4), 'object'], [null, 'null'], [7, 'number']] as const) {
        const ex = vitError(thrownBy(() => ax('f32', 4, 1, bad, 1, b)), 'ERR_INVALID_ARGUMENT');
        expect(ex.message).toMatch(/'x'/);
        expect(ex.received).toBe(type);
        const ey = vitError(thrownBy(() => ax('f32', 4, 1, b, 1, bad)), 'ERR_INVALID_ARGUMENT');
        expect(ey.message).toMatch(/'y'/);
      }
      b.dispose();
    });

    test('with bad dtype, count or scalars is a typed error', () => {
      const b = dev.alloc(16);
      const ax = (...args: unknown[]) => (axpby as (...a: unknown[]) => void)(dev, ...args);
      expect(vitError(thrownBy(() => ax('f64', 4, 1, b, 1, b)), 'ERR_INVALID_ARGUMENT').received).toBe('f64');
      expect(vitError(thrownBy(() => ax('i32', 4, 1, b, 1, b)), 'ERR_DTYPE_MISMATCH').received).toBe('i32');
      expect(vitError(thrownBy(() => ax('u8', 4, 1, b, 1, b)), 'ERR_DTYPE_MISMATCH').received).toBe('u8');
      expect(Number(vitError(thrownBy(() => ax('f32', -1, 1, b, 1, b)), 'ERR_INVALID_ARGUMENT').received)).toBe(-1);
      expect(vitError(thrownBy(() => ax('f32', 4, '1', b, 1, b)), 'ERR_INVALID_ARGUMENT').received).toBe('string');
      expect(vitError(thrownBy(() => ax('f32', 4, 1, b, undefined, b)), 'ERR_INVALID_ARGUMENT').received).toBe('undefined');
      // 5 f32 elements need 20 bytes; the buffers hold 16.
      const e = vitError(thrownBy(() => axpby(dev, 'f32', 5, 1, b, 1, b)), 'ERR_SHAPE_MISMATCH');
      expect(e.expected).toContain('20');
      expect(e.received).toContain('16');
      b.dispose();
    });

    test('with buffers from two different DeviceHandles is ERR_DEVICE_MISMATCH and writes nothing', () => {
      const other = new native.DeviceHandle('cpu', 0);
      const x = other.alloc(8);
      const y = dev.alloc(8);
      x.upload(new Float32Array([1, 2]));
      y.upload(new Float32Array([3, 4]));
      const e = vitError(thrownBy(() => axpby(dev, 'f32', 2, 1, x, 1, y)), 'ERR_DEVICE_MISMATCH');
      // Both handles are the same CPU: the message must still tell them apart.
      expect(e.expected).toContain(dev.name);
      expect(e.received).toContain(other.name);
      expect(e.expected).not.toBe(e.received);
      vitError(thrownBy(() => axpby(other, 'f32', 2, 1, x, 1, y)), 'ERR_DEVICE_MISMATCH');
      const out = new Float32Array(2);
      y.download(out);
      expect(Array.from(out)).toEqual([3, 4]);
      x.dispose();
      y.dispose();
      other.dispose();
    });

    test('with a buffer from the other addon is ERR_INVALID_ARGUMENT, not a crash', () => {
      const otherAddon = addons.find((a) => a !== addon);
      if (otherAddon === undefined) {
        // Only one addon built: there is no foreign buffer to pass; the check below is vacuous.
        expect(addons).toHaveLength(1);
        return;
      }
      const foreignDev = new otherAddon.native.DeviceHandle('cpu', 0);
      const foreign = foreignDev.alloc(8);
      const mine = dev.alloc(8);
      const e = vitError(thrownBy(() => axpby(dev, 'f32', 2, 1, foreign, 1, mine)), 'ERR_INVALID_ARGUMENT');
      expect(e.expected).toBe('BufferHandle');
      foreign.dispose();
      mine.dispose();
      foreignDev.dispose();
    });
  });

});

test('the CPU addon has no CUDA: DeviceHandle("cuda", 0) is ERR_CUDA_UNAVAILABLE', () => {
  const e = vitError(thrownBy(() => new cpuAddon!.native.DeviceHandle('cuda', 0)), 'ERR_CUDA_UNAVAILABLE');
  expect(e.received).toMatch(/CPU addon/);
  expect(e.expected).toMatch(/CUDA addon/);
});

describe('the two addons agree', () => {
  test('both CPU backends give bitwise identical axpby results on random data (f32 and bf16)', () => {
    if (cpuAddon === undefined || cudaAddon === undefined) {
      // Only one addon built: nothing to compare against (the loading tests above say which).
      expect(cudaFile).toBeUndefined();
      return;
    }
    const run = (native: NativeAddon, dtype: 'f32' | 'bf16', n: number, alpha: number, x: Uint8Array, beta: number, y: Uint8Array): Uint8Array => {
      const d = new native.DeviceHandle('cpu', 0);
      const bx = d.alloc(x.byteLength);
      const by = d.alloc(y.byteLength);
      bx.upload(x);
      by.upload(y);
      axpby(d, dtype, n, alpha, bx, beta, by);
      const out = new Uint8Array(y.byteLength);
      by.download(out);
      bx.dispose();
      by.dispose();
      d.dispose();
      return out;
    };
    const bytes = (a: Float32Array | Uint16Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    for (const n of [1, 17, 1031, 65537]) {
      const rng = mulberry32(4000 + n);
      const alpha = randomScalar(rng);
      const beta = randomScalar(rng);
      const fx = bytes(randomF32Array(rng, n, -30, 30));
      const fy = bytes(randomF32Array(rng, n, -30, 30));
      const bx = bytes(randomBf16BitsArray(rng, n, -30, 30));
      const by = bytes(randomBf16BitsArray(rng, n, -30, 30));
      const f1 = run(cpuAddon.native, 'f32', n, alpha, fx, beta, fy);
      const f2 = run(cudaAddon.native, 'f32', n, alpha, fx, beta, fy);
      expect(Buffer.from(f1).equals(Buffer.from(f2))).toBe(true);
      expect(Buffer.from(f1).equals(Buffer.from(fy))).toBe(false); // the kernel did write
      const b1 = run(cpuAddon.native, 'bf16', n, alpha, bx, beta, by);
      const b2 = run(cudaAddon.native, 'bf16', n, alpha, bx, beta, by);
      expect(Buffer.from(b1).equals(Buffer.from(b2))).toBe(true);
      expect(Buffer.from(b1).equals(Buffer.from(by))).toBe(false);
    }
  });
});

describe('the CUDA addon on this machine', () => {
  test("DeviceHandle('cuda', 0) opens a GPU when the probe finds a usable one, else throws ERR_CUDA_UNAVAILABLE with the probe's reason", () => {
    if (cudaAddon === undefined) {
      expect(cudaFile).toBeUndefined();
      return;
    }
    const probe = cudaAddon.native.cudaProbe!();
    // Independent evidence: without the NVIDIA kernel driver, nothing can be usable.
    if (!fs.existsSync('/proc/driver/nvidia/version')) expect(probe.usable).toBe(false);
    // The raw handle needs a driver and device 0 of compute capability 8.0+ (cuBLASLt is not
    // needed to open it; that is what cudaStatus().available adds on top).
    const gpu0 = probe.devices[0];
    if (probe.usable && gpu0 !== undefined && Number(gpu0.computeCapability.split('.')[0]) >= 8) {
      const d = new cudaAddon.native.DeviceHandle('cuda', 0);
      expect(d.kind).toBe('cuda');
      expect(d.name).toMatch(/^cuda:0 \(/);
      const b = d.alloc(8);
      b.upload(new Float32Array([1.5, -2]));
      const out = new Float32Array(2);
      b.download(out);
      expect(Array.from(out)).toEqual([1.5, -2]);
      b.dispose();
      d.dispose();
      return;
    }
    const e = vitError(thrownBy(() => new cudaAddon.native.DeviceHandle('cuda', 0)), 'ERR_CUDA_UNAVAILABLE');
    expect(e.message.length).toBeGreaterThan(0);
    if (!probe.usable && probe.reasonCode !== 'unsupported-device') {
      expect(e.received).toBe(probe.reasonCode);
      expect(e.message).toContain(probe.reason);
    }
  });

  test("DeviceHandle('cuda', 99) is ERR_CUDA_UNAVAILABLE on any machine", () => {
    if (cudaAddon === undefined) {
      expect(cudaFile).toBeUndefined();
      return;
    }
    vitError(thrownBy(() => new cudaAddon.native.DeviceHandle('cuda', 99)), 'ERR_CUDA_UNAVAILABLE');
  });

  test('the probe never throws and describes itself consistently', () => {
    if (cudaAddon === undefined) {
      expect(cudaFile).toBeUndefined();
      return;
    }
    const p = cudaAddon.native.cudaProbe!();
    expect(typeof p.usable).toBe('boolean');
    expect(Array.isArray(p.devices)).toBe(true);
    if (p.usable) {
      expect(p.reasonCode).toBe('');
      expect(p.devices.length).toBeGreaterThan(0);
    } else {
      expect(['no-driver', 'driver-too-old', 'no-device', 'unsupported-device', 'error']).toContain(p.reasonCode);
      expect(p.reason.length).toBeGreaterThan(0);
    }
    if (p.reasonCode === 'no-driver') {
      expect(p.driverVersion).toBe(0);
      expect(p.devices).toEqual([]);
    }
    // The statically linked runtime is known with or without a driver.
    expect(p.runtimeVersion).toBe(cudaAddon.native.build.cudaRuntime);
  });
});

// Runs in a child `node --expose-gc`: allocates buffers, forgets them, collects, reports stats.
// Also constructs handles that fail (bad kind, direct BufferHandle) and drops a device before its
// buffers, so the finalizers of half-built and orphaned objects run too.
const GC_SCRIPT = `
const addon = require(process.env.VIT22B_TEST_ADDON);
const N = 64;
const dev = new addon.DeviceHandle('cpu', 0);
let expectedBytes = 0;
(function forget() {
  for (let i = 0; i < N; i++) { dev.alloc(100 + i); expectedBytes += 100 + i; }
  for (let i = 0; i < 8; i++) {
    try { new addon.BufferHandle(); } catch {}
    try { new addon.DeviceHandle('tpu', 0); } catch {}
  }
  // A device dropped while one of its buffers is still referenced, then the buffer dropped too.
  const orphanDev = new addon.DeviceHandle('cpu', 0);
  globalThis.orphan = orphanDev.alloc(32);
})();
const afterAlloc = dev.stats();
const kept = dev.alloc(8);
const tick = () => new Promise((r) => setImmediate(r));
(async () => {
  globalThis.orphan = undefined;
  for (let round = 0; round < 50 && dev.stats().liveBuffers > 1; round++) {
    gc();
    await tick();
    await new Promise((r) => setTimeout(r, 5));
  }
  const beforeDispose = dev.stats();
  kept.dispose();
  gc();
  await tick();
  console.log(JSON.stringify({ N, expectedBytes, afterAlloc, beforeDispose, final: dev.stats() }));
})();
`;

describe.each(addons)('the garbage-collector backstop ($variant addon)', (addon) => {
  test('forgotten buffers are reclaimed and counted; disposed ones are not counted', () => {
    const r = spawnSync(process.execPath, ['--expose-gc', '-e', GC_SCRIPT], {
      encoding: 'utf8',
      env: { ...process.env, VIT22B_TEST_ADDON: addon.path },
      timeout: 60_000,
    });
    expect(r.signal).toBeNull();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as {
      N: number;
      expectedBytes: number;
      afterAlloc: { liveBuffers: number; liveBytes: number; reclaimedByGc: number };
      beforeDispose: { liveBuffers: number; liveBytes: number; reclaimedByGc: number };
      final: { liveBuffers: number; liveBytes: number; reclaimedByGc: number };
    };
    expect(out.afterAlloc).toEqual({ liveBuffers: out.N, liveBytes: out.expectedBytes, reclaimedByGc: 0 });
    // Everything forgotten came back; only `kept` (8 bytes) was alive before its dispose().
    expect(out.beforeDispose).toEqual({ liveBuffers: 1, liveBytes: 8, reclaimedByGc: out.N });
    expect(out.final).toEqual({ liveBuffers: 0, liveBytes: 0, reclaimedByGc: out.N });
    expect(out.final.reclaimedByGc).toBeGreaterThan(0);
  });
});
