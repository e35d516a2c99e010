/**
 * --data for train and eval: 'synthetic' (built in, generated in memory), 'fashion-mnist' (IDX files
 * found through --data-dir and the usual places) or a folder of class sub-folders (with `train/` and
 * `test/` (or `val/`) inside, both are used; otherwise the whole folder trains and there is no test
 * set). Images of a folder are decoded at the model's size and channel count.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { loadFashionMnist, loadImageFolder, syntheticDataset, type Dataset } from '../data';
import { imageFolderClasses } from '../data/image-folder';
import { Vit22bError } from '../runtime/errors';
import type { ModelConfig } from '../model';

export interface LoadedData {
  train: Dataset;
  test?: Dataset;
  /** What was loaded, for the log. */
  description: string;
}

export interface DataRequest {
  data: string;
  dataDir?: string;
  seed: number;
  /** Synthetic set sizes. */
  syntheticTrain?: number;
  syntheticTest?: number;
}

export const SYNTHETIC_TRAIN_SIZE = 10_000;
export const SYNTHETIC_TEST_SIZE = 2_000;

export async function loadData(req: DataRequest, config: ModelConfig): Promise<LoadedData> {
  if (req.data === 'synthetic') {
    const train = syntheticDataset({ size: req.syntheticTrain ?? SYNTHETIC_TRAIN_SIZE, seed: req.seed, imageSize: config.imageSize });
    // A different seed: test images are new draws of the same classes, not training images.
    const test = syntheticDataset({ size: req.syntheticTest ?? SYNTHETIC_TEST_SIZE, seed: req.seed + 1_000_003, imageSize: config.imageSize });
    return { train, test, description: `synthetic shapes (${train.size} train, ${test.size} test, ${train.numClasses} classes)` };
  }
  if (req.data === 'fashion-mnist') {
    const train = loadFashionMnist({ split: 'train', dataDir: req.dataDir });
    const test = loadFashionMnist({ split: 'test', dataDir: req.dataDir });
    return { train, test, description: `fashion-mnist from ${train.source ?? '?'} (${train.size} train, ${test.size} test)` };
  }
  const root = path.resolve(req.dataDir && !path.isAbsolute(req.data) ? path.join(req.dataDir, req.data) : req.data);
  const options = { imageSize: config.imageSize, channels: config.channels === 1 ? (1 as const) : (3 as const) };
  const split = (names: string[]) => names.map((n) => path.join(root, n)).find((p) => fs.existsSync(p) && fs.statSync(p).isDirectory());
  const trainDir = split(['train']);
  const testDir = split(['test', 'val', 'validation']);
  if (trainDir && testDir) {
    checkSameClasses(trainDir, testDir);
    const train = await loadImageFolder(trainDir, options);
    const test = await loadImageFolder(testDir, options);
    return { train, test, description: `image folder ${root} (${train.size} train, ${test.size} test, ${train.numClasses} classes)` };
  }
  const train = await loadImageFolder(root, options);
  return { train, description: `image folder ${root} (${train.size} images, ${train.numClasses} classes; no train/ and test/ inside, so no test set)` };
}

/**
 * Class ids come from the sorted folder names, so test/{a,c} against train/{a,b} would score "c"
 * images as "b" and report a meaningless accuracy; an extra test class would fail only after the
 * whole training. Both are refused before any image is decoded.
 */
function checkSameClasses(trainDir: string, testDir: string): void {
  const train = imageFolderClasses(trainDir);
  const test = imageFolderClasses(testDir);
  if (train.length === test.length && train.every((n, i) => n === test[i])) return;
  const missing = train.filter((n) => !test.includes(n));
  const extra = test.filter((n) => !train.includes(n));
  throw new Vit22bError('ERR_DATA_CORRUPT', `the classes of ${testDir} differ from those of ${trainDir}${extra.length ? `: ${extra.join(', ')} only in the test set` : ''}${missing.length ? `${extra.length ? ';' : ':'} ${missing.join(', ')} missing from the test set` : ''}`, {
    file: testDir,
    reason: 'class-mismatch',
    expected: train.join(', '),
    received: test.join(', '),
    missing,
    extra,
  });
}
