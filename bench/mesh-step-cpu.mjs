#!/usr/bin/env node
// A training step on a mesh of virtual CPU devices against the same step on one device, measured
// side by side in one run: the `tiny` ViT (the ViT-22B recipe at 28x28), AdamW + clipping, fp32,
// the same global batch and the same total thread count (one device with the machine's threads, or
// each of N devices with threads / N). Rounds alternate the variants so load on a shared machine
// hits them alike. Then one profiled run per mesh gives the share of rank 0's step spent in
// collectives (all_gather, reduce_scatter, all_reduce; a collective's time includes waiting for
// its slowest peer) and in axis_slice (a local copy of this rank's block).
// A mesh written with a trailing "s" (1x2s) runs its collectives on a communication stream of their
// own (overlap 'streams': a thread per plan stream on the CPU).
// Usage: node bench/mesh-step-cpu.mjs [batch] [rounds] [meshes, e.g. 1x2,2x1,1x2s,2x1s]
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { openDevice, compile, getPreset, vitModel, systemInfo } = require('../dist/index.js');

const batch = Number(process.argv[2] ?? 32);
const rounds = Number(process.argv[3] ?? 5);
const meshes = (process.argv[4] ?? '1x2,2x1,1x2s,2x1s').split(',').map((m) => {
  const streams = m.endsWith('s');
  const [data, model] = m.replace(/s$/, '').split('x').map(Number);
  return { data, model, streams };
});
const steps = 4;
const info = systemInfo();
const device = openDevice({ device: 'cpu' });
const config = getPreset('tiny');
const variants = [{ data: 1, model: 1, streams: false }, ...meshes].map((mesh) => {
  const program = compile(vitModel(config), {
    device,
    ...(mesh.data * mesh.model > 1 ? { mesh: { data: mesh.data, model: mesh.model } } : {}),
    ...(mesh.streams ? { overlap: 'streams' } : {}),
    inputShapes: { images: [batch, 28, 28, 1], labels: [batch] },
    train: { loss: 'loss', optimizer: { kind: 'adamw', weightDecay: 1e-4 }, clipNorm: 1 },
    seed: 0,
  });
  return { name: `${mesh.data}x${mesh.model}${mesh.streams ? 's' : ''}`, mesh, program, times: [] };
});

let seed = 1;
const images = Float32Array.from({ length: batch * 28 * 28 }, () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1);
const labels = Int32Array.from({ length: batch }, (_u, i) => i % 10);
const step = (p, s) => p.run({ images, labels }, { lr: 1e-3, step: s });

for (const v of variants) for (let s = 1; s <= 2; ++s) await step(v.program, s); // warm-up
for (let r = 0; r < rounds; ++r) {
  const order = r % 2 === 0 ? variants : [...variants].reverse();
  for (const v of order) {
    const t0 = process.hrtime.bigint();
    for (let s = 0; s < steps; ++s) await step(v.program, 3 + s);
    v.times.push(Number(process.hrtime.bigint() - t0) / 1e9 / steps);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const base = median(variants[0].times);
console.log(`training step, tiny ViT, global batch ${batch}, fp32, AdamW + clipping, ${info.cpu?.model ?? 'cpu'}, ${info.cpu?.kernelThreads ?? '?'} threads in all`);
console.log('mesh   ms/step   vs 1x1 (time ratio)   collectives   axis_slice   (share of rank 0\'s profiled step)');
for (const v of variants) {
  const t = median(v.times);
  let comm = 0;
  let slice = 0;
  let total = 0;
  if (v.name !== '1x1') {
    v.program.setProfiling(true);
    for (let s = 0; s < 3; ++s) await step(v.program, 10 + s);
    for (const row of v.program.profile()) {
      total += row.secondsPerStep;
      if (['all_gather', 'reduce_scatter', 'all_reduce', 'collective_permute'].includes(row.kernel)) comm += row.secondsPerStep;
      if (row.kernel === 'axis_slice') slice += row.secondsPerStep;
    }
    v.program.setProfiling(false);
  }
  const share = (x) => (total > 0 ? `${((100 * x) / total).toFixed(1)}%` : '-');
  console.log(`${v.name.padEnd(6)} ${(t * 1e3).toFixed(1).padStart(7)}   ${(t / base).toFixed(2).padStart(6)}x               ${share(comm).padStart(6)}        ${share(slice).padStart(6)}`);
}
for (const v of variants) v.program.dispose();
device.dispose();
