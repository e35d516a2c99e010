/** Files: safetensors (our own reader and writer), training checkpoints, and timm weight names. */
export {
  parseSafetensors,
  serializeSafetensors,
  writeSafetensors,
  encodeHeader,
  tensorBytes,
  SafetensorsFile,
  MAX_HEADER_BYTES,
  SAFETENSORS_DTYPE_BYTES,
  type SafetensorsDType,
  type SafetensorsEntry,
  type SafetensorsHeader,
  type SafetensorsTensor,
} from './safetensors';
export {
  saveCheckpoint,
  loadCheckpoint,
  latestCheckpoint,
  resolveCheckpoint,
  listCheckpoints,
  pruneCheckpoints,
  MODEL_FILE,
  OPTIMIZER_FILE,
  TRAINER_FILE,
  type SaveCheckpointOptions,
  type LoadedCheckpoint,
  type TrainerJson,
  type CheckpointManifest,
} from './checkpoint';
export { verifyCheckpointFiles, readManifest, MANIFEST_FILE, CHECKPOINT_FORMAT, CHECKPOINT_VERSION } from './checkpoint-manifest';
export {
  timmToNative,
  nativeToTimm,
  timmCompatibility,
  usesFusedOutProj,
  type TimmStateDict,
  type TimmTensor,
  type NativeParams,
  type TimmExportOptions,
} from './timm-names';
export { saveShardedCheckpoint, loadShardedCheckpoint, readShardIndex, SHARDED_FORMAT, type ShardIndex, type ShardedTensor, type Chunk, type Box } from './sharded-checkpoint';
