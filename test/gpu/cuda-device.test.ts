// Runs on a machine with an NVIDIA GPU (`npm run test:gpu`). The same behaviour is proven on the CPU
// by test/runtime; here the CUDA backend must agree with the CPU backend on random data.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

import { bf16BitsToF32, cudaStatus, openDevice, toBf16, Vit22bError } from '../../lib';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomF32(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * 4);
}

describe('CUDA backend', () => {
  test('CUDA is available, with cuBLASLt and NCCL found', () => {
    const s = cudaStatus();
    if (!s.available) throw new Error(`CUDA unavailable on the GPU test machine: ${s.reason}`);
    expect(s.devices.length).toBeGreaterThan(0);
    expect(s.devices[0]!.smCount).toBeGreaterThan(0);
    expect(s.cublasLt.found).toBe(true);
    expect(s.nccl.found).toBe(true);
  });

  test('auto picks the GPU; cuda opens it', () => {
    using auto = openDevice();
    expect(auto.kind).toBe('cuda');
    using cuda = openDevice({ device: 'cuda' });
    expect(cuda.name).toMatch(/^cuda:0 /);
  });

  for (const n of [1, 3, 17, 129, 65537, 1 << 22]) {
    test(`axpby f32 and bf16 match the CPU backend, n=${n}`, () => {
      using cpu = openDevice({ device: 'cpu' });
      using gpu = openDevice({ device: 'cuda' });
      const x = randomF32(n, n);
      const y = randomF32(n, n + 1);
      for (const dtype of ['f32', 'bf16'] as const) {
        const xs = dtype === 'f32' ? x : toBf16(x);
        const ys = dtype === 'f32' ? y : toBf16(y);
        using cx = cpu.tensor(dtype, [n], xs);
        using cy = cpu.tensor(dtype, [n], ys);
        using gx = gpu.tensor(dtype, [n], xs);
        using gy = gpu.tensor(dtype, [n], ys);
        cpu.axpby(1.25, cx, -0.75, cy);
        gpu.axpby(1.25, gx, -0.75, gy);
        const want = cy.toFloat32();
        const got = gy.toFloat32();
        // The GPU contracts a*x + b*y into one FMA, the CPU rounds the product first: f32 results
        // may differ by an ulp of the operands' scale; bf16 results by one bf16 ulp (2^-7 relative).
        const rel = dtype === 'f32' ? 2 ** -21 : 2 ** -7;
        for (let i = 0; i < n; i++) {
          const scale = Math.abs(1.25 * x[i]!) + Math.abs(0.75 * y[i]!);
          if (Math.abs(got[i]! - want[i]!) > rel * scale + 1e-30) {
            throw new Error(`${dtype} n=${n} i=${i}: gpu ${got[i]} cpu ${want[i]}`);
          }
        }
      }
    });
  }

  test('beta = 0 overwrites a NaN-poisoned output', () => {
    using gpu = openDevice({ device: 'cuda' });
    const n = 4099;
    const x = randomF32(n, 7);
    using gx = gpu.tensor('f32', [n], x);
    using gy = gpu.tensor('f32', [n], new Float32Array(n).fill(Number.NaN));
    gpu.axpby(3, gx, 0, gy);
    const got = gy.download() as Float32Array;
    for (let i = 0; i < n; i++) expect(got[i]).toBe(Math.fround(3 * x[i]!));
  });

  test('bf16 uploads round to nearest even on the host', () => {
    using gpu = openDevice({ device: 'cuda' });
    using t = gpu.tensor('bf16', [2], new Float32Array([1 + 2 ** -8, 1 + 3 * 2 ** -8]));
    const bits = t.download() as Uint16Array;
    expect([bf16BitsToF32(bits[0]!), bf16BitsToF32(bits[1]!)]).toEqual([1, 1 + 2 ** -6]);
  });

  test('device errors are typed; disposal frees device memory', () => {
    using gpu = openDevice({ device: 'cuda' });
    const before = gpu.stats().liveBuffers;
    const t = gpu.alloc('f32', [1024]);
    expect(gpu.stats().liveBuffers).toBe(before + 1);
    t.dispose();
    expect(gpu.stats().liveBuffers).toBe(before);
    expect(() => t.download()).toThrow(Vit22bError);
    // 1 PiB cannot fit any GPU: ERR_DEVICE_OOM with the figures, and the device still works after.
    expect(() => gpu.alloc('u8', [2 ** 50])).toThrow(expect.objectContaining({ code: 'ERR_DEVICE_OOM' }));
    using ok = gpu.tensor('f32', [2], new Float32Array([1, 2]));
    expect(Array.from(ok.download())).toEqual([1, 2]);
  });

  test('vit22b info lists the GPU and the libraries', () => {
    const cli = path.resolve(__dirname, '..', '..', 'dist', 'cli.js');
    const r = spawnSync(process.execPath, [cli, 'info', '--json'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const info = JSON.parse(r.stdout) as {
      cuda: { available: boolean; devices: { name: string }[]; cublasLt: { path: string }; nccl: { path: string } };
      defaultDevice: { kind: string };
    };
    expect(info.cuda.available).toBe(true);
    expect(info.cuda.devices[0]!.name).toMatch(/NVIDIA/);
    expect(info.cuda.cublasLt.path).toMatch(/libcublasLt\.so/);
    expect(info.cuda.nccl.path).toMatch(/libnccl\.so/);
    expect(info.defaultDevice.kind).toBe('cuda');
  });
});
