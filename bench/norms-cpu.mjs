#!/usr/bin/env node
// CPU throughput of the norm and GELU kernels (not a test): GB/s of compulsory traffic (each
// tensor read or written once; statistics and parameters ignored), against a memcpy of the same
// bytes (Node's Buffer.copy, one thread) measured in the same run as the named peer.
// Needs the built addon and dist/.   node bench/norms-cpu.mjs     (VIT22B_NUM_THREADS=n)
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const lib = createRequire(import.meta.url)(path.join(root, 'dist', 'index.js'));
const device = lib.openDevice({ device: 'cpu' });

// ViT-B activations of 64 images (197 tokens): [12608, 768] for the norms, [12608, 3072] for GELU;
// the QK norm of ViT-22B: rows = tokens x 48 heads, Dh = 128.
const ROWS = 12608, D = 768, F = 3072;
const REPEATS = 5;

function time(fn) {
  fn(); // warm-up: page faults, thread start
  let best = Infinity;
  for (let i = 0; i < REPEATS; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return best;
}

function filled(dtype, shape, offset = 0) {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = offset + Math.sin(i * 0.37) + 0.01;
  return device.tensor(dtype, shape, v);
}

const memcpyGBs = (() => {
  const src = Buffer.alloc(ROWS * F * 4, 1), dst = Buffer.alloc(ROWS * F * 4);
  return (2 * src.length) / time(() => src.copy(dst)) / 1e9;
})();
console.log(`peer: memcpy (Buffer.copy, 1 thread) ${memcpyGBs.toFixed(1)} GB/s (read + write)`);

function report(label, bytes, fn) {
  const gbs = bytes / time(fn) / 1e9;
  console.log(`${label.padEnd(44)} ${gbs.toFixed(1).padStart(6)} GB/s  ${(gbs / memcpyGBs).toFixed(2)} x memcpy`);
}

for (const dtype of ['f32', 'bf16']) {
  const e = dtype === 'f32' ? 4 : 2;
  for (const [name, rows, dim] of [['[12608, 768]', ROWS, D], ['QK [12608*48/4, 128]', (ROWS * 48) / 4, 128]]) {
    const x = filled(dtype, [rows, dim], 2), dy = filled(dtype, [rows, dim]), y = device.alloc(dtype, [rows, dim]);
    const dx = device.alloc(dtype, [rows, dim]), scale = filled('f32', [dim], 1);
    const mean = device.alloc('f32', [rows]), rstd = device.alloc('f32', [rows]), dscale = device.alloc('f32', [dim]);
    const n = rows * dim;
    for (const center of [false, true]) {
      const kind = center ? 'layerNorm' : 'rmsNorm';
      report(`${kind} fwd ${dtype} ${name}`, 2 * n * e, () => lib.layerNorm(device, x, scale, y, { center, mean, rstd }));
      report(`${kind} bwd ${dtype} ${name}`, 3 * n * e, () =>
        lib.layerNormBackward(device, { x, scale, dy, mean, rstd }, { dx, dscale }, { center }));
    }
    for (const t of [x, dy, y, dx, scale, mean, rstd, dscale]) t.dispose();
  }
  const x = filled(dtype, [ROWS, F]), dy = filled(dtype, [ROWS, F]), y = device.alloc(dtype, [ROWS, F]), dx = device.alloc(dtype, [ROWS, F]);
  const n = ROWS * F;
  for (const form of ['tanh', 'erf']) {
    report(`gelu ${form} fwd ${dtype} [12608, 3072]`, 2 * n * e, () => lib.gelu(device, x, y, { form }));
    report(`gelu ${form} bwd ${dtype} [12608, 3072]`, 3 * n * e, () => lib.geluBackward(device, x, dy, dx, { form }));
  }
  report(`gelu tanh fwd ${dtype} cols [768, 3072) of 3072`, 2 * n * e, () => lib.gelu(device, x, y, { columns: [768, 3072] }));
  for (const t of [x, dy, y, dx]) t.dispose();
}
device.dispose();
