#!/usr/bin/env node
// CPU throughput of the memory-bound token kernels (not a test): sums, casts, mean pooling, patchify
// and the position embedding. GB/s of compulsory traffic (each tensor read or written once), next
// to a memcpy of the same size (Node's Buffer.copy, one thread) measured in the same run as the
// named peer. Needs the built addon and dist/.   node bench/tokens-cpu.mjs   (VIT22B_NUM_THREADS=n)
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const lib = createRequire(import.meta.url)(path.join(root, 'dist', 'index.js'));
const device = lib.openDevice({ device: 'cpu' });

// 64 MiB of f32 activations: [B, T, D] = [64, 256, 1024].
const B = 64, T = 256, D = 1024, N = B * T * D;
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

function filled(dtype, shape) {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = Math.sin(i * 0.37) + 0.01;
  return device.tensor(dtype, shape, v);
}

const memcpyGBs = (() => {
  const src = Buffer.alloc(N * 4, 1), dst = Buffer.alloc(N * 4);
  return (2 * src.length) / time(() => src.copy(dst)) / 1e9;
})();
console.log(`peer: memcpy (Buffer.copy, 1 thread) ${memcpyGBs.toFixed(1)} GB/s (read + write)`);

function report(label, bytes, fn) {
  const gbs = bytes / time(fn) / 1e9;
  console.log(`${label.padEnd(40)} ${gbs.toFixed(1).padStart(6)} GB/s  ${(gbs / memcpyGBs).toFixed(2)} x memcpy`);
}

const out = device.alloc('f32', [1]);
for (const dtype of ['f32', 'bf16']) {
  const e = dtype === 'f32' ? 4 : 2;
  const x = filled(dtype, [B, T, D]);
  report(`sum of squares ${dtype} [${B}, ${T}, ${D}]`, N * e, () => lib.sumOfSquares(device, x, out));
  const other = device.alloc(dtype === 'f32' ? 'bf16' : 'f32', [B, T, D]);
  report(`cast ${dtype} -> ${other.dtype}`, N * (e + (6 - e)), () => lib.cast(device, x, other));
  const pooled = device.alloc(dtype, [B, D]);
  report(`mean pool fwd ${dtype}`, N * e, () => lib.meanPool(device, x, pooled));
  report(`mean pool bwd ${dtype}`, N * e, () => lib.meanPoolBackward(device, pooled, x));
  const pos = filled(dtype, [T, D]);
  report(`pos-embed add ${dtype}`, 2 * N * e, () => lib.addPositionEmbedding(device, x, pos));
  report(`pos-embed bwd ${dtype}`, N * e, () => lib.positionEmbeddingBackward(device, x, pos));
  // 64 images of 224 x 224 x 3 into 16 x 16 patches: [64, 196, 768].
  const images = filled(dtype, [64, 224, 224, 3]), patches = device.alloc(dtype, [64, 196, 768]);
  report(`patchify ${dtype} [64, 224, 224, 3], p=16`, 2 * images.size * e, () => lib.patchify(device, images, patches, { patch: 16 }));
  for (const t of [x, other, pooled, pos, images, patches]) t.dispose();
}
out.dispose();
device.dispose();
