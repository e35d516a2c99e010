export { Vit22bError, isVit22bError, ERROR_CODES, type ErrorCode, type ErrorDetails } from './errors';
export { DTYPES, DTYPE_BYTES, type DType, type HostArray } from './dtype';
export { f32ToBf16Bits, bf16BitsToF32, toBf16, fromBf16 } from './bf16';
export { DeviceTensor } from './tensor';
export { type GemmOptions } from './ops/gemm';
export {
  Device,
  openDevice,
  type DeviceRequest,
  type DeviceSelection,
  type OpenDeviceOptions,
} from './device';
export { cudaStatus, type CudaStatus, type VendorLibraryStatus } from './cuda-status';
export { searchLibrary, searchLocations, type LibrarySearch, type SearchLocation } from './library-search';
export { systemInfo, type SystemInfo } from './info';
export { packageVersion } from './package-root';
export {
  layerNorm,
  rmsNorm,
  layerNormBackward,
  type LayerNormOptions,
  type LayerNormBackwardInputs,
  type LayerNormGrads,
} from './ops/layer-norm';
export { gelu, geluBackward, type GeluForm, type GeluOptions } from './ops/gelu';
