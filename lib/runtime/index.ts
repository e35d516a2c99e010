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
export { LoadedPlan, checkPlanShape, type PlanProfileEntry } from './plan';
export {
  createMesh,
  checkMeshShape,
  Mesh,
  MeshPlan,
  MAX_MESH_DEVICES,
  DEFAULT_MESH_TIMEOUT_MS,
  type MeshShape,
  type MeshOptions,
  type MeshCoordinates,
  type MeshProfileEntry,
} from './mesh';
export type { NativePlan, PlanInstruction, PlanScalar, PlanView } from './plan-format';
export { napiCallCount } from './napi-calls';
export { cudaStatus, type CudaStatus, type VendorLibraryStatus } from './cuda-status';
export { searchLibrary, searchLocations, type LibrarySearch, type SearchLocation } from './library-search';
export { systemInfo, type SystemInfo } from './info';
export { packageVersion } from './package-root';
export {
  attentionForward,
  attentionBackward,
  attentionStats,
  fusedHeads,
  type AttentionOperand,
  type AttentionOptions,
  type AttentionForwardOperands,
  type AttentionBackwardOperands,
  type HeadView,
} from './ops/attention';
export { softmaxCrossEntropy, type CrossEntropyOptions } from './ops/softmax-xent';
export { sigmoidCrossEntropy } from './ops/sigmoid-xent';
export { topkAccuracy } from './ops/topk-accuracy';
export { reduceSum, sumOfSquares } from './ops/reduce-sum';
export { globalNorm } from './ops/global-norm';
export { clipScale } from './ops/clip-scale';
export { assertFinite } from './ops/assert-finite';
export { cast } from './ops/cast';
export { stridedCopy, type StridedCopyOptions } from './ops/strided-copy';
export { meanPool, meanPoolBackward } from './ops/mean-pool';
export { patchify, unpatchify } from './ops/patchify';
export { addPositionEmbedding, positionEmbeddingBackward } from './ops/pos-embed';
export { adamw, adamwMulti, type AdamwOptions, type AdamwTensors } from './ops/adamw';
export {
  adafactor,
  adafactorDecay,
  adafactorLayout,
  type AdafactorLayout,
  type AdafactorOptions,
  type AdafactorTensors,
} from './ops/adafactor';
export { philox, randomInit, type InitDistribution, type RandomStream, type U64 } from './ops/random';
export {
  layerNorm,
  rmsNorm,
  layerNormBackward,
  type LayerNormOptions,
  type LayerNormBackwardInputs,
  type LayerNormGrads,
} from './ops/layer-norm';
export { gelu, geluBackward, type GeluForm, type GeluOptions } from './ops/gelu';
export { findHazards, type Hazard } from './plan-hazards';
