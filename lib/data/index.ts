export { type Dataset, checkDataset, channelStats } from './dataset';
export { readIdx, readIdxImages, readIdxLabels, parseIdx, isGzip, IDX_DTYPE_CODE, type IdxArray, type IdxData, type IdxDType, type IdxImages } from './idx';
export { loadIdxDataset, type IdxDatasetSpec } from './idx-dataset';
export { findDataFiles, type WantedFile } from './data-search';
export {
  loadFashionMnist,
  fashionMnistSearchPaths,
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_MEAN,
  FASHION_MNIST_STD,
  SYSTEM_FASHION_MNIST_DIR,
  type FashionMnistOptions,
  type Split,
} from './fashion-mnist';
export { syntheticDataset, renderSyntheticImage, SYNTHETIC_CLASSES, type SyntheticOptions } from './synthetic';
export { loadImageFolder, type ImageFolderOptions, type ImageFolderDataset } from './image-folder';
export { loadOptionalDependency } from './optional-dependency';
export {
  augmentationFor,
  writeExample,
  normalizationTable,
  IDENTITY_AUGMENTATION,
  type AugmentOptions,
  type ExampleAugmentation,
} from './augment';
export { DataLoader, type DataLoaderOptions, type Batch } from './loader';
