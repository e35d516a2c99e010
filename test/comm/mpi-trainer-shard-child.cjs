// Child of test/comm/mpi-training.test.ts: 3 Trainer steps on mesh data=2 over `mpirun -np 2`
// (VIT22B_TEST_COMM=mpi) or on two virtual devices of one process (local), reading a DataLoader
// through a recording wrapper. Over processes the trainer must ask its source for this process's
// data shard (shard(d, 2)) and build only half-size batches; locally, whole batches. Writes
// $VIT22B_TEST_OUT/rank<r>.json: the shard calls, the batch sizes built, every step's loss bits and
// accuracy, and the same of the evaluation after step 3 (40 test images: 16, 16, a short 8).
'use strict';
const vit = require(process.env.VIT22B_DIST);
const { report } = require('./mpi-child-kit.cjs');

const bits = (x) => new Uint32Array(new Float32Array([x]).buffer)[0].toString(16);

/** A BatchSource over `loader` that records what is asked of it (and of the sources it makes). */
function recording(loader, log) {
  return {
    batch: loader.batch,
    stepsPerEpoch: loader.stepsPerEpoch,
    dataset: loader.dataset,
    batchAt(step) {
      const b = loader.batchAt(step);
      log.sizes.push(b.labels.length);
      return b;
    },
    shard(index, count) {
      log.shards.push([index, count]);
      return recording(loader.shard(index, count), log);
    },
  };
}

async function main() {
  const comm = process.env.VIT22B_TEST_COMM;
  const ds = vit.syntheticDataset({ size: 256, seed: 2, imageSize: 8 });
  const config = vit.getPreset('tiny', { imageSize: 8, patchSize: 4, channels: 1, width: 32, depth: 1, heads: 2, mlpDim: 64, numClasses: ds.numClasses });
  const log = { shards: [], sizes: [] };
  const train = recording(new vit.DataLoader(ds, { batch: 16, seed: 5, shuffle: true, dropLast: true, augment: { crop: { padding: 1 }, flip: true } }), log);
  // 40 test images: batches of 16, 16 and a short last one of 8.
  const testLog = { shards: [], sizes: [] };
  const testDs = vit.syntheticDataset({ size: 40, seed: 9, imageSize: 8 });
  const test = recording(new vit.DataLoader(testDs, { batch: 16, seed: 5, shuffle: false, dropLast: false, lastBatch: 'short' }), testLog);
  const device = vit.openDevice({ device: 'cpu' });
  const trainer = new vit.Trainer({
    device,
    model: vit.vitModel(config),
    train,
    test,
    evalEvery: 3,
    steps: 3,
    optimizer: { kind: 'adamw', weightDecay: 1e-4 },
    schedule: { kind: 'constant', lr: 0.01 },
    seed: 3,
    mesh: { data: 2, model: 1 },
    comm,
    commTimeoutMs: 60000,
  });
  const losses = [], accuracies = [], evals = [];
  for await (const e of trainer.steps()) {
    if (e.type === 'eval') evals.push({ testAccuracy: e.testAccuracy, testLoss: bits(e.testLoss), examples: e.examples });
    if (e.type !== 'step') continue;
    losses.push(bits(e.loss));
    accuracies.push(e.accuracy);
  }
  report(JSON.stringify({ rank: trainer.program.session.meshRanks[0], shards: log.shards, sizes: log.sizes, losses, accuracies, test: { shards: testLog.shards, sizes: testLog.sizes }, evals }));
  trainer.dispose();
  device.dispose();
}
main().catch((e) => {
  console.error(`ERROR ${e.code ?? ''} ${e.message}`);
  process.exit(1);
});
