// Child of test/runtime/plan-emulated-graphs.test.ts (jest's process.env does not reach native
// getenv, so the emulation switch VIT22B_CPU_PLAN_RUNTIME needs a process of its own). Runs a small
// AdamW training program and an axpby plan with { scalar } / { read } operands on a cpu device over
// dist/, and prints what the parent compares: losses, parameter bytes (hex), outputs, and how each
// step ran (LoadedPlan.execution).
'use strict';
const vit = require(process.env.VIT22B_DIST);

const { mulberry32 } = require('./child-kit.cjs');

const O = { batch: 16, features: 6, hidden: 16, classes: 3 };
const normal = (std) => ({ dist: 'normal', std });

function mlp(b) {
  let h = b.compute(b.input('x', [O.batch, O.features]));
  let width = O.features;
  for (let i = 0; i < 2; ++i) {
    h = b.scope(`layer${i}`, () => {
      const w = b.param(`layer${i}/w`, [width, O.hidden], { init: normal(1 / Math.sqrt(width)) });
      return b.gelu(b.dense(h, w, b.param(`layer${i}/b`, [O.hidden])));
    });
    width = O.hidden;
  }
  const logits = b.dense(h, b.param('head/w', [width, O.classes], { init: normal(0.2) }), b.param('head/b', [O.classes]));
  const labels = b.input('labels', [O.batch], 'i32');
  b.output('loss', b.softmaxCrossEntropy(logits, labels));
}

async function train(device, steps) {
  const rng = mulberry32(5);
  const x = Float32Array.from({ length: O.batch * O.features }, () => rng() * 2 - 1);
  const labels = Int32Array.from({ length: O.batch }, () => Math.floor(rng() * O.classes));
  const p = vit.compile(mlp, {
    device,
    train: { loss: 'loss', optimizer: { kind: 'adamw', weightDecay: 1e-3 }, clipNorm: 0.5 },
    seed: 3,
    inputShapes: { x: [O.batch, O.features], labels: [O.batch] },
  });
  try {
    const losses = [];
    const modes = [];
    for (let step = 1; step <= steps; ++step) {
      const out = await p.run({ x, labels }, { lr: 0.05 / step, step });
      losses.push(out.loss[0]);
      modes.push(p.main.runner.execution);
    }
    const params = p.parameterNames().map((n) => Buffer.from(p.read(n).buffer).toString('hex'));
    return { losses, params, modes };
  } finally {
    p.dispose();
  }
}

function scalarPlan(n) {
  return {
    version: 1, arenaBytes: 8 * n + 64, slotBytes: [8 * n + 64], events: 0, scalars: 1,
    streams: [[{
      kernel: 'axpby', note: 'y = s0 x + beta y',
      spec: {
        dtype: 'f32', n, alpha: { scalar: 0 }, x: { slot: 0, offset: 0, bytes: 4 * n },
        beta: { read: { slot: 0, offset: 8 * n, bytes: 4 } }, y: { slot: 0, offset: 4 * n, bytes: 4 * n },
      },
    }]],
    inputs: [{ slot: 0, offset: 0, bytes: 8 * n + 4 }],
    outputs: [{ slot: 0, offset: 4 * n, bytes: 4 * n }],
  };
}

async function axpbyRuns(device) {
  const n = 37;
  const lp = device.loadPlan(scalarPlan(n));
  try {
    const rng = mulberry32(9);
    const outputs = [];
    const modes = [];
    for (let run = 0; run < 4; ++run) {
      const input = Float32Array.from({ length: 2 * n + 1 }, () => rng() * 4 - 2);
      input[2 * n] = run === 2 ? 0 : run + 0.5; // beta 0 on one run: y is not read
      const [y] = await lp.run([input], [[0.25, -1.5, 3, 7][run]]);
      outputs.push(Buffer.from(y).toString('hex'));
      modes.push(lp.execution);
    }
    // Out of range on what would be a replay: refused before anything runs.
    let rangeError = '';
    await lp.run([new Float32Array(2 * n + 1)], [1e39]).catch((e) => (rangeError = e.code));
    // Profiling: direct runs, same numbers, graphs kept.
    lp.setProfiling(true);
    const [yp] = await lp.run([new Float32Array(2 * n + 1).fill(1)], [2]);
    const profiled = { output: Buffer.from(yp).toString('hex'), runs: lp.profile().runs, mode: lp.execution };
    return { outputs, modes, rangeError, profiled };
  } finally {
    lp.dispose();
  }
}

(async () => {
  const device = vit.openDevice({ device: 'cpu' });
  try {
    const result = { training: await train(device, 8), axpby: await axpbyRuns(device) };
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    device.dispose();
  }
})().catch((e) => {
  process.stderr.write(`${e.code ?? 'Error'}: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
