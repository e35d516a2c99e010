/** Every op definition, in one list (op-table.ts indexes it by name). */
import type { OpDef } from '../op-def';
import { adafactorStatsOp } from './adafactor-stats';
import { adafactorUpdateOp } from './adafactor-update';
import { adamwMultiUpdateOp, adamwUpdateOp } from './adamw-update';
import { assertFiniteOp } from './assert-finite';
import { addOp } from './add';
import { allGatherOp } from './all-gather';
import { allReduceOp } from './all-reduce';
import { axisSliceOp } from './axis-slice';
import { collectivePermuteOp } from './collective-permute';
import { ringMatmulOp } from './ring-matmul';
import { pvaryOp } from './pvary';
import { reduceScatterOp } from './reduce-scatter';
import { attentionGradOp, attentionOp } from './attention';
import { attentionStatsOp } from './attention-stats';
import { biasAddOp } from './bias-add';
import { broadcastBatchOp } from './broadcast-batch';
import { concatOp } from './concat';
import { scatterSlicesOp, sliceGradOp, sliceOp } from './slice';
import { castOp } from './cast';
import { clipScaleOp } from './clip-scale';
import { copyOp } from './copy';
import { geluGradOp, geluOp } from './gelu';
import { globalNormOp } from './global-norm';
import { gradAccumulateOp, gradClearOp, gradMeanOp } from './grad-accumulation';
import { layerNormGradOp, layerNormOp } from './layer-norm';
import { normApplyGradOp, normApplyOp } from './norm-apply';
import { rowMomentsGradOp, rowMomentsOp } from './row-moments';
import { constOp, inputOp, paramOp, stateOp } from './leaf';
import { linearOp } from './linear';
import { matmulOp } from './matmul';
import { meanPoolGradOp, meanPoolOp } from './mean-pool';
import { patchifyOp, unpatchifyOp } from './patchify';
import { posEmbedAddOp } from './pos-embed-add';
import { reshapeOp } from './reshape';
import { scaleOp } from './scale';
import { sigmoidXentGradOp, sigmoidXentOp } from './sigmoid-xent';
import { softmaxXentGradOp, softmaxXentOp } from './softmax-xent';
import { sumToOp } from './sum-to';
import { topkAccuracyOp } from './topk-accuracy';

export const OPS: readonly OpDef[] = [
  inputOp,
  paramOp,
  stateOp,
  constOp,
  matmulOp,
  linearOp,
  addOp,
  biasAddOp,
  sumToOp,
  scaleOp,
  reshapeOp,
  copyOp,
  castOp,
  geluOp,
  geluGradOp,
  layerNormOp,
  layerNormGradOp,
  rowMomentsOp,
  rowMomentsGradOp,
  normApplyOp,
  normApplyGradOp,
  attentionOp,
  attentionGradOp,
  attentionStatsOp,
  softmaxXentOp,
  softmaxXentGradOp,
  sigmoidXentOp,
  sigmoidXentGradOp,
  meanPoolOp,
  meanPoolGradOp,
  patchifyOp,
  unpatchifyOp,
  posEmbedAddOp,
  topkAccuracyOp,
  globalNormOp,
  clipScaleOp,
  adamwUpdateOp,
  adamwMultiUpdateOp,
  adafactorStatsOp,
  adafactorUpdateOp,
  assertFiniteOp,
  gradAccumulateOp,
  gradMeanOp,
  gradClearOp,
  sliceOp,
  sliceGradOp,
  scatterSlicesOp,
  concatOp,
  broadcastBatchOp,
  allGatherOp,
  reduceScatterOp,
  allReduceOp,
  pvaryOp,
  axisSliceOp,
  collectivePermuteOp,
  ringMatmulOp,
];
