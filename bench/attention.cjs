// Throughput of the CPU attention kernels (forward 4 B H Tq Tk Dh flops, backward counted as 2.5x
// the forward, the usual convention) next to the CPU GEMM on a product with the same flops as the
// forward (the batched Q K^T and P V of every head), measured in the same run.
// Usage: node bench/attention.cjs [dtype]   (after the build; reads dist/)
'use strict';
const path = require('node:path');
const { openDevice, attentionForward, attentionBackward } = require(path.join(__dirname, '..', 'dist', 'index.js'));

const dtype = process.argv[2] ?? 'f32';
const device = openDevice({ device: 'cpu' });

function timeIt(fn, minSeconds = 1.0) {
  fn(); // warm up (thread pool, scratch)
  let runs = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < minSeconds) {
    fn();
    runs++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  return elapsed / runs;
}

function fill(t) {
  const v = new Float32Array(t.size);
  for (let i = 0; i < v.length; i++) v[i] = Math.sin(i * 0.37) * 0.9 + 0.05;
  t.upload(v);
  return t;
}

for (const [B, T, H, Dh] of [[4, 197, 12, 64], [4, 197, 12, 128], [4, 256, 48, 128]]) {
  const qs = [B, T, H, Dh];
  const t = {};
  for (const n of ['q', 'k', 'v', 'dO']) t[n] = fill(device.alloc(dtype, qs));
  for (const n of ['o', 'dQ', 'dK', 'dV']) t[n] = device.alloc(dtype, qs);
  t.lse = device.alloc('f32', [B, H, T]);
  const flops = 4 * B * H * T * T * Dh;
  const fwd = timeIt(() => attentionForward(device, t));
  const bwd = timeIt(() => attentionBackward(device, t));
  // Peer: batched GEMM [B*H] x [T, Dh] @ [Dh, T], then [T, T] @ [T, Dh] (same flops as the forward).
  const a = fill(device.alloc(dtype, [B * H, T, Dh])), s = device.alloc('f32', [B * H, T, T]);
  const sb = fill(device.alloc(dtype, [B * H, T, T])), out = device.alloc('f32', [B * H, T, Dh]);
  const gemm = timeIt(() => {
    device.gemm(a, a, s, { transB: true });
    device.gemm(sb, a, out);
  });
  const g = (sec, f) => (f / sec / 1e9).toFixed(1);
  console.log(
    `${dtype} B=${B} T=${T} H=${H} Dh=${Dh}: forward ${(fwd * 1e3).toFixed(2)} ms ${g(fwd, flops)} GFLOP/s, ` +
      `backward ${(bwd * 1e3).toFixed(2)} ms ${g(bwd, 2.5 * flops)} GFLOP/s; ` +
      `GEMM peer (QK^T + PV, unfused) ${g(gemm, flops)} GFLOP/s -> forward/GEMM ${(gemm / fwd).toFixed(2)}x`,
  );
  for (const x of [...Object.values(t), a, s, sb, out]) x.dispose();
}
device.dispose();
