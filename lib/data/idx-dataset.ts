/**
 * An MNIST-like data set from a pair of IDX files: images [N, H, W] of u8 and labels [N] of u8.
 * Shared by Fashion-MNIST and any other set in the same format.
 */
import { Vit22bError } from '../runtime/errors';
import type { Dataset } from './dataset';
import { readIdxImages, readIdxLabels } from './idx';

export interface IdxDatasetSpec {
  name: string;
  imagesFile: string;
  labelsFile: string;
  numClasses: number;
  classNames?: readonly string[];
  /** Normalization statistics (of the training split, so both splits are normalized alike). */
  mean: readonly number[];
  std: readonly number[];
  source?: string;
}

/**
 * Reads both files and checks they agree: as many labels as images (ERR_DATA_CORRUPT, reason
 * `size-mismatch`, naming both files) and every label in [0, numClasses) (ERR_DATA_CORRUPT,
 * reason `label-out-of-range`, naming the label file and the first bad index).
 */
export function loadIdxDataset(spec: IdxDatasetSpec): Dataset {
  const { images, count, height, width } = readIdxImages(spec.imagesFile);
  const raw = readIdxLabels(spec.labelsFile);
  if (raw.length !== count) {
    throw new Vit22bError(
      'ERR_DATA_CORRUPT',
      `${spec.labelsFile} has ${raw.length} labels but ${spec.imagesFile} has ${count} images`,
      {
        file: spec.labelsFile,
        imagesFile: spec.imagesFile,
        reason: 'size-mismatch',
        expected: `${count} labels`,
        received: `${raw.length} labels`,
      },
    );
  }
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const l = raw[i]!;
    if (l >= spec.numClasses) {
      throw new Vit22bError('ERR_DATA_CORRUPT', `${spec.labelsFile}: label ${l} at index ${i} is outside [0, ${spec.numClasses})`, {
        file: spec.labelsFile,
        index: i,
        reason: 'label-out-of-range',
        expected: `a class id in [0, ${spec.numClasses})`,
        received: String(l),
      });
    }
    labels[i] = l;
  }
  return {
    name: spec.name,
    imageShape: [height, width, 1],
    numClasses: spec.numClasses,
    ...(spec.classNames ? { classNames: spec.classNames } : {}),
    size: count,
    images,
    labels,
    mean: spec.mean,
    std: spec.std,
    ...(spec.source !== undefined ? { source: spec.source } : {}),
  };
}
