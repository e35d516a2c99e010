// Fashion-MNIST (lib/data/fashion-mnist.ts) from the shared folder, checked against the raw bytes
// read here independently; the search order and its not-found error; broken label files.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';

import { findDataFiles } from '../../lib/data/data-search';
import {
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_MEAN,
  FASHION_MNIST_STD,
  fashionMnistSearchPaths,
  loadFashionMnist,
  SYSTEM_FASHION_MNIST_DIR,
} from '../../lib/data/fashion-mnist';
import { isVit22bError, type Vit22bError } from '../../lib/runtime/errors';
import { thrownBy } from '../helpers/errors';
import { REPO_ROOT } from '../helpers/paths';
import { mulberry32, randInt } from '../helpers/prng';

// The checkout's copy of the data set (the repository's CI has ../shared beside the clone).
const SHARED = path.resolve(REPO_ROOT, '..', 'shared', 'datasets', 'fashion-mnist');

/** The payload of an IDX file, skipping its header by the format's fixed layout (not by our reader). */
function rawPayload(name: string, headerBytes: number): Buffer {
  return gunzipSync(fs.readFileSync(path.join(SHARED, `${name}.gz`))).subarray(headerBytes);
}

describe('Fashion-MNIST from the shared folder', () => {
  test('the shared folder is there (these tests need it)', () => {
    expect(fs.existsSync(path.join(SHARED, 'train-images-idx3-ubyte.gz'))).toBe(true);
  });

  test('train: 60 000 images 28x28x1, 6 000 per class, bytes as in the files', () => {
    const ds = loadFashionMnist({ split: 'train' });
    expect(ds.name).toBe('fashion-mnist/train');
    expect(ds.size).toBe(60000);
    expect(ds.imageShape).toEqual([28, 28, 1]);
    expect(ds.numClasses).toBe(10);
    expect(ds.classNames).toEqual(FASHION_MNIST_CLASSES);
    expect(ds.images.length).toBe(60000 * 784);
    expect(ds.labels).toBeInstanceOf(Int32Array);
    const hist = new Array<number>(10).fill(0);
    for (const l of ds.labels) hist[l]!++;
    expect(hist).toEqual(new Array(10).fill(6000));

    // Labels file: 8 header bytes (magic, count). Images file: 16 (magic, count, rows, columns).
    const labels = rawPayload('train-labels-idx1-ubyte', 8);
    expect(Array.from(ds.labels.subarray(0, 12))).toEqual(Array.from(labels.subarray(0, 12)));
    // The first labels of the training set as published: ankle boot, T-shirt, T-shirt, dress, ...
    expect(Array.from(ds.labels.subarray(0, 6))).toEqual([9, 0, 0, 3, 0, 2]);
    expect(Array.from(ds.labels.subarray(59990))).toEqual(Array.from(labels.subarray(59990)));
    const images = rawPayload('train-images-idx3-ubyte', 16);
    const rng = mulberry32(5);
    for (let k = 0; k < 20; k++) {
      const i = randInt(rng, 0, 59999);
      expect(Buffer.from(ds.images.subarray(i * 784, (i + 1) * 784)).equals(images.subarray(i * 784, (i + 1) * 784))).toBe(true);
    }
  });

  test('test: 10 000 images, 1 000 per class, first labels as in the file', () => {
    const ds = loadFashionMnist({ split: 'test' });
    expect(ds.name).toBe('fashion-mnist/test');
    expect(ds.size).toBe(10000);
    const hist = new Array<number>(10).fill(0);
    for (const l of ds.labels) hist[l]!++;
    expect(hist).toEqual(new Array(10).fill(1000));
    const labels = rawPayload('t10k-labels-idx1-ubyte', 8);
    expect(Array.from(ds.labels.subarray(0, 20))).toEqual(Array.from(labels.subarray(0, 20)));
  });

  test('mean and std are the training images\' (computed here in float64), for both splits', () => {
    const images = rawPayload('train-images-idx3-ubyte', 16);
    let sum = 0;
    for (const v of images) sum += v / 255;
    const mean = sum / images.length;
    let sq = 0;
    for (const v of images) sq += (v / 255 - mean) ** 2;
    const std = Math.sqrt(sq / images.length);
    expect(Math.abs(FASHION_MNIST_MEAN - mean)).toBeLessThan(1e-6);
    expect(Math.abs(FASHION_MNIST_STD - std)).toBeLessThan(1e-6);
    for (const split of ['train', 'test'] as const) {
      const ds = loadFashionMnist({ split, dataDir: SHARED });
      expect(ds.mean).toEqual([FASHION_MNIST_MEAN]);
      expect(ds.std).toEqual([FASHION_MNIST_STD]);
    }
  });
});

describe('where Fashion-MNIST is looked for', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-fmnist-'));
  });
  afterEach(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
    jest.restoreAllMocks();
  });

  /** A tiny MNIST-like split written by hand: n images of 2x3 and the given labels. */
  function writeSplit(folder: string, prefix: string, labels: number[], gz: boolean): void {
    fs.mkdirSync(folder, { recursive: true });
    const n = labels.length;
    const images = Buffer.alloc(16 + n * 6);
    images.writeUInt32BE(0x00000803, 0);
    images.writeUInt32BE(n, 4);
    images.writeUInt32BE(2, 8);
    images.writeUInt32BE(3, 12);
    for (let i = 0; i < n * 6; i++) images[16 + i] = (i * 37) & 0xff;
    const lab = Buffer.alloc(8 + n);
    lab.writeUInt32BE(0x00000801, 0);
    lab.writeUInt32BE(n, 4);
    labels.forEach((l, i) => (lab[8 + i] = l));
    const ext = gz ? '.gz' : '';
    fs.writeFileSync(path.join(folder, `${prefix}-images-idx3-ubyte${ext}`), gz ? gzipSync(images) : images);
    fs.writeFileSync(path.join(folder, `${prefix}-labels-idx1-ubyte${ext}`), gz ? gzipSync(lab) : lab);
  }

  test('the order: dataDir, the system folder, ../shared beside the package root, then beside the cwd', () => {
    const root = REPO_ROOT; // this checkout is the package root
    const expected = [tmp, SYSTEM_FASHION_MNIST_DIR, path.resolve(root, '..', 'shared', 'datasets', 'fashion-mnist')];
    const besideCwd = path.resolve(process.cwd(), '..', 'shared', 'datasets', 'fashion-mnist');
    if (!expected.includes(besideCwd)) expected.push(besideCwd);
    expect(fashionMnistSearchPaths(tmp)).toEqual(expected);
    expect(fashionMnistSearchPaths()).toEqual(expected.slice(1));
  });

  test('dataDir comes first: its files are used even though the shared copy exists', () => {
    writeSplit(tmp, 'train', [3, 1, 4, 1, 5], true);
    const ds = loadFashionMnist({ split: 'train', dataDir: tmp });
    expect(ds.source).toBe(tmp);
    expect(ds.size).toBe(5);
    expect(ds.imageShape).toEqual([2, 3, 1]);
    expect(Array.from(ds.labels)).toEqual([3, 1, 4, 1, 5]);
    expect(ds.images[7]).toBe((7 * 37) & 0xff);
  });

  test('raw files are taken before gzipped ones in the same folder', () => {
    writeSplit(tmp, 't10k', [2, 2], true);
    writeSplit(tmp, 't10k', [7, 7, 7], false);
    expect(Array.from(loadFashionMnist({ split: 'test', dataDir: tmp }).labels)).toEqual([7, 7, 7]);
  });

  test('a folder with only one of the two files is passed over', () => {
    writeSplit(tmp, 'train', [1], false);
    fs.rmSync(path.join(tmp, 'train-labels-idx1-ubyte'));
    expect(loadFashionMnist({ split: 'train', dataDir: tmp }).source).not.toBe(tmp);
  });

  test('not found anywhere: ERR_DATA_NOT_FOUND lists every folder searched, in order', () => {
    // Hide every file, wherever it is, so the default places come up empty too.
    // The module object itself (a namespace import's bindings cannot be redefined); the library
    // reads statSync from it at each call.
    const nodeFs = require('node:fs') as typeof fs;
    const statSync = nodeFs.statSync;
    jest.spyOn(nodeFs, 'statSync').mockImplementation(((p: fs.PathLike, o?: fs.StatSyncOptions) => {
      if (String(p).includes('ubyte')) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      return statSync(p, o);
    }) as typeof fs.statSync);
    const e = thrownBy(() => loadFashionMnist({ split: 'train', dataDir: tmp })) as Vit22bError;
    expect(isVit22bError(e, 'ERR_DATA_NOT_FOUND')).toBe(true);
    expect(e.details.searched).toEqual(fashionMnistSearchPaths(tmp));
    expect(e.details.files).toEqual(['train-images-idx3-ubyte', 'train-labels-idx1-ubyte']);
    for (const folder of fashionMnistSearchPaths(tmp)) expect(e.message).toContain(folder);
  });

  test('onlyDataDir: searches that folder alone', () => {
    const e = thrownBy(() => loadFashionMnist({ split: 'test', dataDir: tmp, onlyDataDir: true })) as Vit22bError;
    expect(isVit22bError(e, 'ERR_DATA_NOT_FOUND')).toBe(true);
    expect(e.details.searched).toEqual([tmp]);
    expect(e.details.files).toEqual(['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']);
  });

  test('findDataFiles: first complete folder wins, duplicates are searched once', () => {
    const a = path.join(tmp, 'a');
    const b = path.join(tmp, 'b');
    fs.mkdirSync(a);
    fs.mkdirSync(b);
    fs.writeFileSync(path.join(a, 'x'), '');
    fs.writeFileSync(path.join(b, 'x.gz'), '');
    fs.writeFileSync(path.join(b, 'y'), '');
    const wanted = [
      { name: 'x', variants: ['x', 'x.gz'] },
      { name: 'y', variants: ['y', 'y.gz'] },
    ];
    expect(findDataFiles('t', [a, b], wanted)).toEqual({ folder: b, files: [path.join(b, 'x.gz'), path.join(b, 'y')] });
    const e = thrownBy(() => findDataFiles('t', [a, a, path.join(tmp, 'c')], wanted)) as Vit22bError;
    expect(e.details.searched).toEqual([a, path.join(tmp, 'c')]);
  });

  test('a label out of range: ERR_DATA_CORRUPT naming the label file and the index', () => {
    writeSplit(tmp, 'train', [0, 9, 3, 10, 2], false);
    const e = thrownBy(() => loadFashionMnist({ split: 'train', dataDir: tmp })) as Vit22bError;
    expect(isVit22bError(e, 'ERR_DATA_CORRUPT')).toBe(true);
    const labelsFile = path.join(tmp, 'train-labels-idx1-ubyte');
    expect(e.details).toMatchObject({ file: labelsFile, index: 3, reason: 'label-out-of-range', received: '10' });
    expect(e.message).toContain(labelsFile);
    expect(e.message).toContain('index 3');
  });

  test('fewer labels than images: ERR_DATA_CORRUPT naming both files', () => {
    writeSplit(tmp, 'train', [1, 2, 3], false);
    const lab = Buffer.alloc(10);
    lab.writeUInt32BE(0x00000801, 0);
    lab.writeUInt32BE(2, 4);
    fs.writeFileSync(path.join(tmp, 'train-labels-idx1-ubyte'), lab);
    const e = thrownBy(() => loadFashionMnist({ split: 'train', dataDir: tmp })) as Vit22bError;
    expect(isVit22bError(e, 'ERR_DATA_CORRUPT')).toBe(true);
    expect(e.details).toMatchObject({
      reason: 'size-mismatch',
      file: path.join(tmp, 'train-labels-idx1-ubyte'),
      imagesFile: path.join(tmp, 'train-images-idx3-ubyte'),
      expected: '3 labels',
      received: '2 labels',
    });
  });

  test('a truncated images file in dataDir: ERR_DATA_CORRUPT naming it (no silent fallback)', () => {
    writeSplit(tmp, 'train', [1, 2, 3], false);
    const imagesFile = path.join(tmp, 'train-images-idx3-ubyte');
    fs.truncateSync(imagesFile, 20);
    const e = thrownBy(() => loadFashionMnist({ split: 'train', dataDir: tmp })) as Vit22bError;
    expect(isVit22bError(e, 'ERR_DATA_CORRUPT')).toBe(true);
    expect(e.details).toMatchObject({ file: imagesFile, reason: 'truncated' });
  });

  test('a bad split is a typed error', () => {
    const e = thrownBy(() => loadFashionMnist({ split: 'validation' as 'train' })) as Vit22bError;
    expect(isVit22bError(e, 'ERR_INVALID_ARGUMENT')).toBe(true);
    expect(e.details.field).toBe('split');
  });
});
