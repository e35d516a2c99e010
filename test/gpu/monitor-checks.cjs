#!/usr/bin/env node
// GPU checks of the monitoring kernel attention_stats (native/cuda/attention_stats.cu) against the
// CPU backend (proven against a float64 reference by test/kernels/attention-stats.test.ts), on
// random q and k, dense and strided, f32 and bf16. Plain JavaScript over dist/ (see cuda-checks.cjs).
// Prints { checks: [{ name, ok, detail }] }; exits 1 on any failure.
'use strict';
const { rng, check, finish, loadVit, openDevices } = require('./check-harness.cjs');

// Printed on one line, and the process ends right after.
const PRINT = { indent: 0, exit: true };
const { attentionStats, fusedHeads, toBf16 } = loadVit(undefined, undefined, PRINT);
const { cpu, gpu } = openDevices('open the cuda device', 'cuda', PRINT);

// [batch, heads, tq, tk, headDim, fused]: the tiny model's shape, the MAP head's one query, odd sizes.
const SHAPES = [
  [2, 4, 49, 49, 16, false],
  [3, 2, 1, 49, 32, false],
  [1, 3, 17, 129, 64, false],
  [2, 4, 49, 49, 16, true],
];

for (const dtype of ['f32', 'bf16']) {
  for (const [b, h, tq, tk, dh, fused] of SHAPES) {
    check(`attention_stats ${dtype} [${b}, ${h}, ${tq}, ${tk}, ${dh}]${fused ? ' fused views' : ''} matches the CPU`, () => {
      const r = rng(b * 1000 + tq + dh);
      const width = h * dh;
      const values = (n) => Float32Array.from({ length: n }, () => (r() * 2 - 1) * 2);
      const store = (x) => (dtype === 'f32' ? x : toBf16(x));
      // The same inputs for both devices.
      const fusedData = store(values(b * tq * 2 * width));
      const qData = store(values(b * tq * width));
      const kData = store(values(b * tk * width));
      const results = [];
      for (const dev of [cpu, gpu]) {
        const tensors = [];
        let ops;
        if (fused) {
          const t = dev.tensor(dtype, [b, tq, 2 * width], fusedData);
          tensors.push(t);
          ops = { q: fusedHeads(t, 0, h, dh), k: fusedHeads(t, width, h, dh) };
        } else {
          const q = dev.tensor(dtype, [b, tq, h, dh], qData);
          const k = dev.tensor(dtype, [b, tk, h, dh], kData);
          tensors.push(q, k);
          ops = { q, k };
        }
        const out = dev.tensor('f32', [2], new Float32Array([NaN, NaN]));
        attentionStats(dev, ops, out);
        results.push(out.download());
        for (const t of [...tensors, out]) t.dispose();
      }
      const [want, got] = results;
      // Same f32 dot products in a different order: the max logit within 1e-5 relative; the
      // entropy is summed in double on both sides.
      for (let i = 0; i < 2; i++) {
        const err = Math.abs(got[i] - want[i]);
        if (!(err <= 1e-5 * (1 + Math.abs(want[i])))) throw new Error(`out[${i}]: gpu ${got[i]} cpu ${want[i]}`);
      }
      return `max logit ${got[0].toFixed(4)}, entropy ${got[1].toFixed(4)}`;
    });
  }
}

cpu.dispose();
gpu.dispose();
finish(PRINT);
