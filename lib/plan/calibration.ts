/**
 * The CPU's entry of the device table is measured, not looked up: `vit22b plan --calibrate` times
 * our own kernels on this machine and writes the rates to a JSON file (default
 * $XDG_CACHE_HOME/vit22b/plan-calibration.json, else ~/.cache/vit22b/plan-calibration.json;
 * `--calibration FILE` reads or writes another):
 *   - GEMM GFLOP/s on a grid of shapes (f32 and bf16 operands): a plan's GEMM is costed at the rate
 *     of the nearest measured shape (in log m, log n, log k);
 *   - streaming bandwidth (axpby: two reads and a write per element) over 64 MiB vectors (memory)
 *     and over 1 MiB in all (in cache): a memory-bound kernel is costed at the rate for its
 *     footprint, interpolated in log bytes between the two;
 *   - bytes per second of the two memory-bound kernels whose arithmetic is not free on a CPU
 *     (GELU's tanh, the norms' reductions), measured through the same kernels;
 *   - the fixed cost of one launch (an axpby of one element).
 * Collectives of a virtual mesh are copies between buffers of this process: they are costed at the
 * measured bandwidth with a rendezvous latency of 20 us per step (chosen: a few thread wake-ups).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * The fastest of repeated calls (one warm-up first): on a machine shared with other jobs, the call
 * least disturbed is the closest to what the kernel costs; bench/plan-vs-measured.mjs compares
 * against the fastest step for the same reason.
 */
function timeBest(fn: () => void, budgetSeconds: number, minCalls: number, maxCalls: number): { seconds: number } {
  fn();
  let best = Infinity;
  let calls = 0;
  const start = performance.now();
  while (calls < maxCalls && (calls < minCalls || performance.now() - start < budgetSeconds * 1000)) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, (performance.now() - t0) / 1000);
    calls++;
  }
  return { seconds: best };
}
import type { Device } from '../runtime/device';
import { Vit22bError } from '../runtime/errors';
import { gelu } from '../runtime/ops/gelu';
import { layerNorm } from '../runtime/ops/layer-norm';
import type { DeviceSpec } from './devices';
import type { GemmRate } from './gemm-model';
import type { KernelRates } from './instruction-cost';

export interface GemmPoint {
  m: number;
  n: number;
  k: number;
  dtype: 'f32' | 'bf16';
  gflops: number;
}

export interface Calibration {
  version: 1;
  cpu: string;
  threads: number;
  createdAt: string;
  gemm: GemmPoint[];
  /** Streaming bandwidth, GB/s, of 64 MiB vectors (from memory). */
  bandwidthGBps: number;
  /** The same over 1 MiB of vectors (from cache). */
  cacheBandwidthGBps: number;
  /** Bytes per second of kernels measured on their own (by kernel name). */
  kernelBytesPerSecond: Record<string, number>;
  launchUs: number;
}

export function defaultCalibrationPath(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'vit22b', 'plan-calibration.json');
}

function operand(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x / 2147483648 - 1;
  }
  return out;
}

/** The footprints of the two bandwidth measurements: 3 vectors of 2^16 and of 2^24 floats. */
const CACHE_BYTES = 3 * 4 * (1 << 16);
const MEMORY_BYTES = 3 * 4 * (1 << 24);

const SIZES = { m: [64, 512, 4096], n: [64, 384, 1536], k: [16, 64, 384, 1536] };
/** Shapes above this many multiply-adds are left out: the rate has saturated well before. */
const MAX_MACS = 2 ** 29;

/**
 * `seconds`: time budget per measurement (default 0.05); `maxMacs`: leave out GEMM shapes above this
 * many multiply-adds (default 2^29; tests pass less to keep quick).
 */
export function measureCalibration(device: Device, o: { seconds?: number; maxMacs?: number; log?: (s: string) => void } = {}): Calibration {
  if (device.kind !== 'cpu') {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', 'the planner calibrates the CPU only (GPUs and TPUs are in the device table)', { expected: 'a cpu device', received: device.kind });
  }
  const budget = o.seconds ?? 0.05;
  const gemm: GemmPoint[] = [];
  for (const dtype of ['f32', 'bf16'] as const) {
    for (const m of SIZES.m) {
      for (const n of SIZES.n) {
        for (const k of SIZES.k) {
          if (m * n * k > (o.maxMacs ?? MAX_MACS)) continue;
          using a = device.tensor(dtype, [m, k], operand(m * k, 1));
          using b = device.tensor(dtype, [k, n], operand(k * n, 2));
          using c = device.alloc(dtype, [m, n]);
          const t = timeBest(() => {
            device.gemm(a, b, c);
            device.synchronize();
          }, budget, 3, 32);
          gemm.push({ m, n, k, dtype, gflops: (2 * m * n * k) / t.seconds / 1e9 });
        }
      }
    }
    o.log?.(`gemm ${dtype}: ${gemm.filter((g) => g.dtype === dtype).length} shapes`);
  }
  const big = 1 << 24;
  using x = device.tensor('f32', [big], operand(big, 3));
  using y = device.tensor('f32', [big], operand(big, 4));
  const stream = timeBest(() => {
    device.axpby(1, x, 0.5, y);
    device.synchronize();
  }, 4 * budget, 3, 16);
  const bandwidthGBps = (3 * 4 * big) / stream.seconds / 1e9;
  const small = 1 << 16;
  using xs = device.tensor('f32', [small], operand(small, 7));
  using ys = device.tensor('f32', [small], operand(small, 8));
  const cached = timeBest(() => {
    device.axpby(1, xs, 0.5, ys);
    device.synchronize();
  }, budget, 16, 256);
  const cacheBandwidthGBps = (3 * 4 * small) / cached.seconds / 1e9;
  using one = device.tensor("f32", [1], Float32Array.of(1));
  using one2 = device.tensor("f32", [1], Float32Array.of(2));
  const launch = timeBest(() => {
    device.axpby(1, one, 0.5, one2);
    device.synchronize();
  }, budget, 16, 256);
  const kernelBytesPerSecond: Record<string, number> = {};
  for (const dtype of ['f32', 'bf16'] as const) {
    const rows = 4096;
    const cols = 1024;
    const el = dtype === 'f32' ? 4 : 2;
    using gx = device.tensor(dtype, [rows, cols], operand(rows * cols, 5));
    using gy = device.alloc(dtype, [rows, cols]);
    const tg = timeBest(() => {
      gelu(device, gx, gy);
      device.synchronize();
    }, budget, 3, 32);
    kernelBytesPerSecond[`gelu_fwd:${dtype}`] = (2 * rows * cols * el) / tg.seconds;
    using scale = device.tensor('f32', [cols], operand(cols, 6));
    const tn = timeBest(() => {
      layerNorm(device, gx, scale, gy, { center: false });
      device.synchronize();
    }, budget, 3, 32);
    kernelBytesPerSecond[`layer_norm_fwd:${dtype}`] = (2 * rows * cols * el) / tn.seconds;
  }
  return {
    version: 1,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    threads: os.cpus().length,
    createdAt: new Date().toISOString(),
    gemm,
    bandwidthGBps,
    cacheBandwidthGBps,
    kernelBytesPerSecond,
    launchUs: launch.seconds * 1e6,
  };
}

export function checkCalibration(v: unknown, where: string): Calibration {
  const c = v as Calibration;
  const ok =
    typeof c === 'object' &&
    c !== null &&
    c.version === 1 &&
    Array.isArray(c.gemm) &&
    c.gemm.length > 0 &&
    c.gemm.every((g) => [g.m, g.n, g.k, g.gflops].every((x) => typeof x === 'number' && x > 0) && (g.dtype === 'f32' || g.dtype === 'bf16')) &&
    typeof c.bandwidthGBps === 'number' &&
    c.bandwidthGBps > 0 &&
    typeof c.cacheBandwidthGBps === 'number' &&
    c.cacheBandwidthGBps > 0 &&
    typeof c.launchUs === 'number' &&
    c.launchUs >= 0 &&
    typeof c.kernelBytesPerSecond === 'object' &&
    c.kernelBytesPerSecond !== null;
  if (!ok) {
    throw new Vit22bError('ERR_INVALID_CONFIG', `${where} is not a planner calibration (version 1 with gemm, bandwidthGBps, kernelBytesPerSecond, launchUs)`, {
      expected: 'the JSON `vit22b plan --calibrate` writes',
      received: JSON.stringify(v)?.slice(0, 120) ?? String(v),
    });
  }
  return c;
}

export function readCalibration(file = defaultCalibrationPath()): Calibration {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `no CPU calibration at ${file}: run \`vit22b plan --calibrate\` first (or give --calibration FILE)`, {
      field: 'calibration',
      expected: 'a file written by vit22b plan --calibrate',
      received: file,
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Vit22bError('ERR_INVALID_CONFIG', `${file} is not JSON: ${(e as Error).message}`, { expected: 'JSON', received: text.slice(0, 80) });
  }
  return checkCalibration(parsed, file);
}

export function writeCalibration(c: Calibration, file = defaultCalibrationPath()): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(c, null, 2) + '\n');
  fs.renameSync(tmp, file);
  return file;
}

/** GFLOP/s of the nearest calibrated shape (log distance), for operands of `dtype`. */
export function calibratedGemmRate(c: Calibration, dtype: 'f32' | 'bf16'): GemmRate {
  const points = c.gemm.filter((g) => g.dtype === dtype);
  const use = points.length ? points : c.gemm;
  return {
    rate(m, n, k) {
      let best = use[0]!;
      let bestD = Infinity;
      for (const p of use) {
        const d = Math.log2(m / p.m) ** 2 + Math.log2(n / p.n) ** 2 + Math.log2(k / p.k) ** 2;
        if (d < bestD) {
          bestD = d;
          best = p;
        }
      }
      return best.gflops;
    },
  };
}

export function calibratedKernelRates(c: Calibration, dtype: 'f32' | 'bf16'): KernelRates {
  const r = c.kernelBytesPerSecond;
  const lo = Math.log2(CACHE_BYTES);
  const hi = Math.log2(MEMORY_BYTES);
  return {
    bytesPerSecond(kernel, bytes) {
      if (kernel === 'gelu_fwd' || kernel === 'gelu_bwd') return r[`gelu_fwd:${dtype}`];
      if (kernel === 'layer_norm_fwd' || kernel === 'layer_norm_bwd') return r[`layer_norm_fwd:${dtype}`];
      // Between the two footprints measured, log-linear in bytes.
      const t = Math.min(1, Math.max(0, (Math.log2(Math.max(bytes, 1)) - lo) / (hi - lo)));
      return (c.cacheBandwidthGBps + (c.bandwidthGBps - c.cacheBandwidthGBps) * t) * 1e9;
    },
  };
}

/** The CPU as a device of the table, from its calibration. */
export function cpuDevice(c: Calibration): DeviceSpec {
  const peak = Math.max(...c.gemm.map((g) => g.gflops));
  return {
    id: 'cpu',
    name: `${c.cpu} (calibrated)`,
    peakTflops: peak / 1e3,
    hbmBytes: os.totalmem(),
    hbmGBps: c.bandwidthGBps,
    hbmEfficiency: 1,
    gemmEfficiency: 1,
    tile: { m: 1, n: 1, k: 1 },
    linkGBps: c.bandwidthGBps,
    netGBps: c.bandwidthGBps,
    linkLatencyUs: 20,
    netLatencyUs: 20,
    devicesPerNode: 1 << 20,
    launchUs: c.launchUs,
    source: `measured by vit22b plan --calibrate on ${c.cpu}, ${c.createdAt}`,
  };
}
