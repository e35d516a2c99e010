// Child of test/comm/mpi-training.test.ts: 5 AdamW steps of a small ViT-22B-recipe model (parallel
// block, QK-norm, MAP head; the tiny preset made smaller) on a data x model mesh, either as virtual
// devices of this one process (VIT22B_TEST_COMM=local) or as one process per device of an MPI job
// (VIT22B_TEST_COMM=mpi, under mpirun; VIT22B_TEST_SHARD=1: each process fed only its data shard).
// Same seed, same random weights, same batches. Writes
// $VIT22B_TEST_OUT/rank<r>.json: the loss and gradient norm of every step as f32 bits, and every parameter after
// the last step (a global read: over MPI, gathered from every process) as a sha256 of its bytes and
// its first values. The test compares the two runs.
'use strict';
const crypto = require('node:crypto');
const vit = require(process.env.VIT22B_DIST);
const { mulberry32 } = require('../helpers/child-kit.cjs');
const { report } = require('./mpi-child-kit.cjs');

function normals(rng, n, std = 1) {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(rng(), 1e-12), v = rng();
    const r = Math.sqrt(-2 * Math.log(u)) * std;
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}
const bits = (x) => new Uint32Array(new Float32Array([x]).buffer)[0].toString(16);

async function main() {
  const [data, model] = process.env.VIT22B_TEST_MESH.split('x').map(Number);
  const comm = process.env.VIT22B_TEST_COMM;
  const precision = process.env.VIT22B_TEST_PRECISION || 'fp32';
  const BATCH = 8, STEPS = 5;
  const config = vit.getPreset('tiny', { imageSize: 8, patchSize: 4, channels: 3, width: 32, depth: 2, heads: 4, mlpDim: 64, numClasses: 5 });
  const p = vit.compile(vit.vitModel(config), {
    mesh: { data, model },
    comm,
    commTimeoutMs: Number(process.env.VIT22B_TEST_COMM_TIMEOUT_MS || 60000),
    precision,
    seed: 1,
    inputShapes: { images: [BATCH, 8, 8, 3], labels: [BATCH] },
    train: { loss: 'loss', optimizer: { kind: 'adamw', weightDecay: 0.01 }, clipNorm: 1 },
  });
  // Weights of a larger scale than the init, so every step moves them visibly.
  const rng = mulberry32(5);
  for (const name of p.parameterNames()) {
    const n = p.bufferShape(name).reduce((a, b) => a * b, 1);
    const v = normals(rng, n, 0.2);
    p.write(name, p.bufferDType(name) === 'bf16' ? vit.toBf16(v) : v);
  }
  const batchRng = mulberry32(21);
  const losses = [], gradNorms = [];
  for (let step = 1; step <= STEPS; ++step) {
    const images = normals(batchRng, BATCH * 8 * 8 * 3);
    const labels = Int32Array.from({ length: BATCH }, () => Math.floor(batchRng() * 5));
    // VIT22B_TEST_NAN_STEP=N: the last image of step N's batch (data shard 1's) becomes NaN.
    if (Number(process.env.VIT22B_TEST_NAN_STEP) === step) images.fill(NaN, images.length - 8 * 8 * 3);
    let out;
    try {
      if (process.env.VIT22B_TEST_SHARD === '1') {
        // Each process fed only its data coordinate's rows (Program.run's shard): the same step.
        const rows = BATCH / data, d = Math.floor(p.session.meshRanks[0] / model);
        const px = 8 * 8 * 3;
        out = await p.run({ images: { data: images.slice(d * rows * px, (d + 1) * rows * px), shape: [rows, 8, 8, 3] }, labels: { data: labels.slice(d * rows, (d + 1) * rows), shape: [rows] } }, { lr: 1e-2, step }, { shard: true });
      } else {
        out = await p.run({ images, labels }, { lr: 1e-2, step });
      }
    } catch (e) {
      // Which step failed how, on this rank: the fault tests compare the ranks' decisions.
      report(JSON.stringify({ rank: p.session.meshRanks[0], failedStep: step, code: e.code, message: e.message }));
      throw e;
    }
    losses.push(bits(out.loss[0]));
    gradNorms.push(bits(out.gradNorm[0]));
  }
  const params = {};
  for (const name of p.parameterNames()) {
    const a = p.read(name);
    const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    params[name] = { sha: crypto.createHash('sha256').update(bytes).digest('hex'), head: Array.from(a.slice(0, 3)) };
  }
  const rank = p.session.meshRanks[0];
  report(JSON.stringify({ rank, losses, gradNorms, params }));
  p.dispose();
}
main().catch((e) => {
  console.error(`ERROR ${e.code ?? ''} ${e.message}`);
  process.exit(1);
});
