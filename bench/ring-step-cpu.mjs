#!/usr/bin/env node
// The collective matmul on this CPU, measured side by side in one run: a training step of the
// `tiny` ViT (the ViT-22B recipe at 28x28; width 64 splits 4 ways) on a mesh of virtual CPU devices
// with overlap none, streams, ring and bidirectional (lib/graph/passes/ring.ts), the same global
// batch, AdamW + clipping, fp32. Rounds alternate the order so load on a shared machine hits the
// variants alike; the median ms/step is reported with its ratio to 'none'.
// Then per-device memory with ZeRO-3 off and on (overlap none): the planned arena and persistent
// bytes (the memory plan) and the measured peak of device 0 (Device.peakLiveBytes(): the most bytes
// of buffers and plan arenas it held at once, from its creation through compile and one step; the
// CPU backend has no allocator of its own, so this accounting is its allocator peak).
// Usage: node bench/ring-step-cpu.mjs [batch] [rounds] [meshes, e.g. 1x4,2x2]
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { openDevice, compile, createMesh, getPreset, vitModel, systemInfo } = require('../dist/index.js');

const batch = Number(process.argv[2] ?? 16);
const rounds = Number(process.argv[3] ?? 5);
const meshes = (process.argv[4] ?? '1x4,2x2').split(',').map((m) => {
  const [data, model] = m.split('x').map(Number);
  return { data, model };
});
const steps = 3;
const info = systemInfo();
const device = openDevice({ device: 'cpu' });
const config = getPreset('tiny');
const train = { loss: 'loss', optimizer: { kind: 'adamw', weightDecay: 1e-4 }, clipNorm: 1 };
let seed = 1;
const images = Float32Array.from({ length: batch * 28 * 28 }, () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1);
const labels = Int32Array.from({ length: batch }, (_u, i) => i % 10);
const step = (p, s) => p.run({ images, labels }, { lr: 1e-3, step: s });
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const mib = (b) => (b / 2 ** 20).toFixed(2);

console.log(`training step, tiny ViT, global batch ${batch}, fp32, AdamW + clipping, ${info.cpu?.model ?? 'cpu'}, ${info.cpu?.kernelThreads ?? '?'} threads in all`);
for (const shape of meshes) {
  const variants = ['none', 'streams', 'ring', 'bidirectional'].map((overlap) => {
    const program = compile(vitModel(config), { device, mesh: shape, overlap, inputShapes: { images: [batch, 28, 28, 1], labels: [batch] }, train, seed: 0 });
    return { overlap, program, times: [], ring: program.main.ring };
  });
  for (const v of variants) for (let s = 1; s <= 2; ++s) await step(v.program, s); // warm-up
  for (let r = 0; r < rounds; ++r) {
    const order = r % 2 === 0 ? variants : [...variants].reverse();
    for (const v of order) {
      const t0 = process.hrtime.bigint();
      for (let s = 0; s < steps; ++s) await step(v.program, 3 + s);
      v.times.push(Number(process.hrtime.bigint() - t0) / 1e9 / steps);
    }
  }
  const base = median(variants[0].times);
  console.log(`\nmesh ${shape.data}x${shape.model}: overlap        ms/step   vs none   rings (scatter/gather)   permute share of rank 0's profiled step`);
  for (const v of variants) {
    const t = median(v.times);
    let permute = 0;
    let total = 0;
    v.program.setProfiling(true);
    for (let s = 0; s < 2; ++s) await step(v.program, 10 + s);
    for (const row of v.program.profile()) {
      total += row.secondsPerStep;
      if (row.kernel === 'collective_permute') permute += row.secondsPerStep;
    }
    v.program.setProfiling(false);
    const rings = v.ring ? `${v.ring.scatter}/${v.ring.gather}` : '-';
    console.log(`               ${v.overlap.padEnd(14)} ${(t * 1e3).toFixed(1).padStart(7)}   ${(t / base).toFixed(2).padStart(5)}x   ${rings.padStart(10)}               ${total > 0 ? ((100 * permute) / total).toFixed(1) : '-'}%`);
    v.program.dispose();
  }
}

console.log('\nper-device memory (device 0, overlap none): planned arena + persistent, and the measured peak');
for (const shape of [{ data: 2, model: 1 }, { data: 2, model: 2 }, { data: 4, model: 1 }]) {
  for (const zero of [0, 3]) {
    const mesh = createMesh(shape);
    const program = compile(vitModel(config), { mesh, zero, inputShapes: { images: [batch, 28, 28, 1], labels: [batch] }, train, seed: 0 });
    await step(program, 1);
    const m = program.main.memory;
    const peak = mesh.devices[0].peakLiveBytes();
    console.log(`mesh ${shape.data}x${shape.model} zero ${zero}: arena ${mib(m.arenaBytes)} MiB, persistent ${mib(m.persistentBytes)} MiB, planned total ${mib(m.arenaBytes + m.persistentBytes)} MiB, measured peak ${mib(peak)} MiB`);
    program.dispose();
    mesh.dispose();
  }
}
device.dispose();
