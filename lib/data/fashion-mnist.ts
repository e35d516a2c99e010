/**
 * Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017): 70 000 grey 28x28 images of 10 kinds of clothing,
 * in the IDX format of MNIST. Nothing is downloaded: the files are looked for in the places a user
 * or a distribution puts them.
 */
import * as path from 'node:path';

import { Vit22bError } from '../runtime/errors';
import { packageRoot } from '../runtime/package-root';
import type { Dataset } from './dataset';
import { findDataFiles, uniqueFolders, type WantedFile } from './data-search';
import { loadIdxDataset } from './idx-dataset';

export const FASHION_MNIST_CLASSES: readonly string[] = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

/**
 * Pixel / 255 statistics of the 60 000 training images (test/data/fashion-mnist.test.ts recomputes
 * them). Both splits use these, so test images are normalized exactly as the model saw in training.
 */
export const FASHION_MNIST_MEAN = 0.2860406;
export const FASHION_MNIST_STD = 0.3530242;

/** Debian's dataset-fashion-mnist package installs the four .gz files here. */
export const SYSTEM_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

export type Split = 'train' | 'test';

export interface FashionMnistOptions {
  split: Split;
  /** Looked in first. */
  dataDir?: string;
  /** Look only in `dataDir`, not in the default places (for a caller that wants no surprises). */
  onlyDataDir?: boolean;
}

function sharedDatasetsDir(base: string): string {
  return path.resolve(base, '..', 'shared', 'datasets', 'fashion-mnist');
}

/**
 * The folders searched, in order: `dataDir`, the system folder, then `../shared/datasets/fashion-mnist`
 * beside the package root and beside the cwd (where a development checkout keeps test data).
 */
export function fashionMnistSearchPaths(dataDir?: string): string[] {
  const folders: string[] = [];
  if (dataDir !== undefined) folders.push(dataDir);
  folders.push(SYSTEM_FASHION_MNIST_DIR);
  try {
    folders.push(sharedDatasetsDir(packageRoot()));
  } catch {
    // a copy of the sources outside the package (bundled into an app): no package root to look beside
  }
  folders.push(sharedDatasetsDir(process.cwd()));
  return uniqueFolders(folders);
}

function idxFile(base: string): WantedFile {
  // Raw first: it saves decompressing 26 MB when both are present.
  return { name: base, variants: [base, `${base}.gz`] };
}

/**
 * Loads one split. ERR_DATA_NOT_FOUND (with `details.searched`) when no folder has both of its
 * files; ERR_DATA_CORRUPT (naming the file, and the index for a bad label) when they are broken.
 */
export function loadFashionMnist(options: FashionMnistOptions): Dataset {
  if (options.split !== 'train' && options.split !== 'test') {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `fashion-mnist: split must be 'train' or 'test'`, {
      field: 'split',
      expected: "'train' or 'test'",
      received: String(options.split),
    });
  }
  const prefix = options.split === 'train' ? 'train' : 't10k';
  const folders = options.onlyDataDir && options.dataDir !== undefined ? [options.dataDir] : fashionMnistSearchPaths(options.dataDir);
  const { folder, files } = findDataFiles('fashion-mnist', folders, [
    idxFile(`${prefix}-images-idx3-ubyte`),
    idxFile(`${prefix}-labels-idx1-ubyte`),
  ]);
  return loadIdxDataset({
    name: `fashion-mnist/${options.split}`,
    imagesFile: files[0]!,
    labelsFile: files[1]!,
    numClasses: FASHION_MNIST_CLASSES.length,
    classNames: FASHION_MNIST_CLASSES,
    mean: [FASHION_MNIST_MEAN],
    std: [FASHION_MNIST_STD],
    source: folder,
  });
}
