// What a process of a multi-process run pays to build its input batch: the whole global batch (what
// every process built before the trainer fed shards) against its data shard (DataLoader.shard, what
// the trainer reads now), side by side in one run, on the in-memory synthetic data set with the
// training augmentation (crop + flip) and normalization. Prints the median of 7 batches per case.
//   node bench/loader-shard.mjs [imageSize=224] [globalBatch=256]
import * as os from 'node:os';

import * as vit from '../dist/index.js';

const imageSize = Number(process.argv[2] ?? 224);
const globalBatch = Number(process.argv[3] ?? 256);
const ds = vit.syntheticDataset({ size: Math.max(2 * globalBatch, 512), seed: 1, imageSize });
const whole = new vit.DataLoader(ds, { batch: globalBatch, seed: 3, shuffle: true, dropLast: true, augment: { crop: { padding: 2 }, flip: true } });

function medianMs(loader) {
  let b = loader.batchAt(0);
  const times = [];
  for (let s = 1; s <= 7; s++) {
    const t0 = performance.now();
    b = loader.batchAt(s, b);
    times.push(performance.now() - t0);
  }
  return times.sort((x, y) => x - y)[3];
}

console.log(`CPU: ${os.cpus()[0]?.model}; synthetic ${imageSize} px, global batch ${globalBatch}, crop + flip`);
const full = medianMs(whole);
console.log(`whole global batch (${globalBatch} images): ${full.toFixed(2)} ms`);
for (const t of [2, 4, 8, 16].filter((t) => globalBatch % t === 0)) {
  const ms = medianMs(whole.shard(0, t));
  console.log(`data shard of 1/${t} (${globalBatch / t} images): ${ms.toFixed(2)} ms (${(full / ms).toFixed(1)}x less than the whole batch)`);
}
