#!/usr/bin/env node
// AdamW throughput on the CPU device: bytes moved per step (param, m, v read and written, grad
// read) over the median time of a few steps, next to a peer measured in the same run: Buffer.copy
// (memcpy, one thread) over the same number of bytes. Usage: node bench/optim-cpu.mjs [MiB of params]
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { openDevice, adamw, adamwMulti, adafactor } = require('../dist/index.js');

const mib = Number(process.argv[2] ?? 64);
const n = Math.floor((mib * 1024 * 1024) / 4);
const device = openDevice({ device: 'cpu' });

function median(fn, reps = 7) {
  fn();
  const t = [];
  for (let i = 0; i < reps; i++) {
    const s = process.hrtime.bigint();
    fn();
    t.push(Number(process.hrtime.bigint() - s) / 1e9);
  }
  return t.sort((a, b) => a - b)[reps >> 1];
}

const fill = (k, v) => new Float32Array(k).fill(v);
for (const gradType of ['f32', 'bf16']) {
  const param = device.tensor('f32', [n], fill(n, 0.5));
  const grad = device.tensor(gradType, [n], fill(n, 0.01));
  const m = device.tensor('f32', [n], fill(n, 0.001));
  const v = device.tensor('f32', [n], fill(n, 0.0001));
  let step = 1;
  const bytes = n * (24 + (gradType === 'f32' ? 4 : 2));
  const s1 = median(() => adamw(device, { param, grad, m, v }, { step: step++, lr: 1e-3 }));
  // The same bytes as 8 tensors in one multi-tensor call.
  const k = n / 8;
  const parts = Array.from({ length: 8 }, () => ({
    param: device.tensor('f32', [k], fill(k, 0.5)),
    grad: device.tensor(gradType, [k], fill(k, 0.01)),
    m: device.tensor('f32', [k], fill(k, 0.001)),
    v: device.tensor('f32', [k], fill(k, 0.0001)),
  }));
  const s2 = median(() => adamwMulti(device, parts, { step: step++, lr: 1e-3 }));
  console.log(`adamw       ${gradType} grad, ${mib} MiB params: ${(s1 * 1e3).toFixed(1)} ms, ${(bytes / s1 / 1e9).toFixed(1)} GB/s`);
  console.log(`adamw_multi ${gradType} grad, 8 x ${mib / 8} MiB:    ${(s2 * 1e3).toFixed(1)} ms, ${(bytes / s2 / 1e9).toFixed(1)} GB/s`);
  for (const t of [param, grad, m, v, ...parts.flatMap((p) => Object.values(p))]) t.dispose();
}

{ // Adafactor, factored [rows, cols] of the same size, bf16 momentum: traffic = param r/w,
  // grad read twice, momentum r/w (bf16).
  const cols = 4096, rows = n / cols;
  const param = device.tensor('f32', [rows, cols], fill(n, 0.5));
  const grad = device.tensor('f32', [rows, cols], fill(n, 0.01));
  const momentum = device.tensor('bf16', [rows, cols], fill(n, 0.001));
  const vr = device.tensor('f32', [rows], fill(rows, 1e-4));
  const vc = device.tensor('f32', [cols], fill(cols, 1e-4));
  let step = 1;
  const s = median(() => adafactor(device, { param, grad, momentum, vr, vc }, { step: step++, lr: 1e-3 }));
  console.log(`adafactor   f32 grad, bf16 momentum, [${rows}, ${cols}]: ${(s * 1e3).toFixed(1)} ms, ${((n * 20) / s / 1e9).toFixed(1)} GB/s (20 B/element)`);
  for (const t of [param, grad, momentum, vr, vc]) t.dispose();
}

const src = Buffer.alloc(n * 14, 1), dst = Buffer.alloc(n * 14);
const sc = median(() => src.copy(dst));
console.log(`peer: Buffer.copy of ${(n * 14 / 2 ** 20).toFixed(0)} MiB (read + write = ${(n * 28 / 2 ** 20).toFixed(0)} MiB): ${(sc * 1e3).toFixed(1)} ms, ${((n * 28) / sc / 1e9).toFixed(1)} GB/s`);
device.dispose();
