/**
 * A checkpoint's parameters as global f32 tensors, whatever its layout ('single': model.safetensors;
 * 'sharded': chunks of rank files assembled by index.json). What `vit22b export` and `train --init`
 * read, so a checkpoint saved on a mesh exports and fine-tunes like any other. Also wraps a plain
 * safetensors file, so callers take weights from either without asking which.
 */
import * as path from 'node:path';
import { readFloatTensor } from './float-weights';
import { checkpointError, layoutOf, readManifest, requireListed, verifyCheckpointFiles } from './checkpoint-manifest';
import { MODEL_FILE } from './checkpoint';
import { indexFiles, readShardIndex, readShardedTensor, type ShardIndex } from './sharded-checkpoint';
import { SafetensorsFile } from './safetensors';

export interface WeightSource extends Disposable {
  /** What the weights come from (a safetensors file or a checkpoint directory), for messages. */
  readonly file: string;
  names(): string[];
  has(name: string): boolean;
  shape(name: string): number[];
  /** The tensor as f32 (bf16 and f16 widened). */
  readFloat(name: string): Float32Array;
}

/** The tensors of one safetensors file. */
export function safetensorsWeights(file: string): WeightSource {
  const f = SafetensorsFile.open(file);
  return {
    file,
    names: () => f.names(),
    has: (n) => f.has(n),
    shape: (n) => f.entry(n).shape,
    readFloat: (n) => readFloatTensor(f, n),
    [Symbol.dispose]: () => f.close(),
  };
}

function shardedWeights(dir: string, index: ShardIndex): WeightSource {
  // The parameters only: the optimizer state sits in the same index under its own kind.
  const params = Object.entries(index.tensors).filter(([, t]) => t.kind === 'param');
  const byName = new Map(params);
  return {
    file: dir,
    names: () => params.map(([n]) => n),
    has: (n) => byName.has(n),
    shape: (n) => [...byName.get(n)!.shape],
    readFloat: (n) => {
      const t = readShardedTensor(dir, index, n);
      // Parameters are the f32 masters; anything else is not a checkpoint this version wrote.
      if (!(t instanceof Float32Array)) throw checkpointError(dir, 'dtype-mismatch', `parameter ${n} is ${byName.get(n)!.dtype}, not f32`, { tensor: n, expected: 'f32', received: byName.get(n)!.dtype });
      return t;
    },
    [Symbol.dispose]: () => {},
  };
}

/** The parameters of the checkpoint at `dir` (a step directory), after verifying every file's hash. */
export function openCheckpointWeights(dir: string): WeightSource {
  const manifest = readManifest(dir);
  verifyCheckpointFiles(dir, manifest);
  if (layoutOf(manifest) !== 'sharded') {
    requireListed(dir, manifest, [MODEL_FILE]);
    return safetensorsWeights(path.join(dir, MODEL_FILE));
  }
  const index = readShardIndex(dir);
  requireListed(dir, manifest, indexFiles(index));
  return shardedWeights(dir, index);
}
