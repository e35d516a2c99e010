/**
 * Starting a run from pretrained weights (Trainer option `init`, `vit22b train --init`): our own
 * checkpoint or safetensors file, or a timm VisionTransformer state dict, adapted to the new task
 * the way fine-tuning recipes do it:
 * - another class count: the classifier (head/w, head/b) keeps the new model's initialization;
 * - another image size (patch grid): learned position embeddings are resampled bilinearly over the
 *   grid, the class token's row kept (lib/model/resample-pos.ts);
 * - another channel count or patch size: ERR_INVALID_CONFIG (no meaningful mapping exists).
 * The weights' geometry is read from the tensors themselves (patch embedding, position table,
 * classifier), so no config of the pretraining run is needed: every other field is the new config's
 * and the tensors must then fit it exactly. Optimizer state is not taken: the run starts fresh.
 */
import * as fs from 'node:fs';
import { resolveCheckpoint } from '../io/checkpoint';
import { openCheckpointWeights, safetensorsWeights, type WeightSource } from '../io/checkpoint-weights';
import { foldLayerScale } from '../io/timm-layer-scale';
import { refusedTimmOption, timmToNative, type NativeParams, type TimmStateDict } from '../io/timm-names';
import { validateConfig, type ModelConfig } from '../model/config';
import { paramSpecs } from '../model/params';
import { resamplePosEmbed } from '../model/resample-pos';
import { Vit22bError } from '../runtime/errors';

export interface PretrainedInit {
  /** A safetensors file, or (native) a checkpoint directory: a step-<n> or a folder of them (the newest). */
  file: string;
  /** 'native' (our parameter names; default) or 'timm' (a VisionTransformer state dict). */
  format?: 'native' | 'timm';
}

export interface PretrainedWeights {
  /** The parameters to write; the ones absent (a re-initialized classifier) keep the model's init. */
  params: NativeParams;
  /** What was adapted, one sentence each (the CLI prints them on stderr). */
  notes: string[];
  /** The file read. */
  source: string;
  /** The weights' own geometry. */
  from: { imageSize: number; numClasses: number };
}

function invalid(field: string, message: string, expected: string, received: string, file: string): Vit22bError {
  return new Vit22bError('ERR_INVALID_CONFIG', `--init ${file}: ${message}`, { field, expected, received, file });
}

/** The weights behind `file`: a safetensors file, or a verified checkpoint's parameters (either layout). */
function openWeights(file: string, format: 'native' | 'timm'): WeightSource {
  let isDir = false;
  try {
    isDir = fs.statSync(file).isDirectory();
  } catch {
    throw new Vit22bError('ERR_DATA_NOT_FOUND', `--init ${file}: no such file or directory`, { file, expected: 'a safetensors file or checkpoint directory', received: 'missing' });
  }
  if (!isDir) return safetensorsWeights(file);
  if (format === 'timm') throw new Vit22bError('ERR_INVALID_ARGUMENT', `--init ${file}: timm weights are one safetensors file, not a directory`, { file, expected: 'a .safetensors file', received: 'a directory' });
  return openCheckpointWeights(resolveCheckpoint(file));
}

interface Geometry {
  channels: number;
  grid: number;
  numClasses: number;
}

/** Reads channels, grid side and class count off the patch, position and classifier tensors. */
function geometry(shapes: Map<string, number[]>, format: 'native' | 'timm', target: ModelConfig, file: string): Geometry {
  const names = format === 'timm' ? { patch: 'patch_embed.proj.weight', pos: 'pos_embed', head: 'head.weight' } : { patch: 'embed/w', pos: 'pos', head: 'head/w' };
  const need = (n: string): number[] => {
    const s = shapes.get(n);
    if (!s) throw new Vit22bError('ERR_INVALID_ARGUMENT', `--init ${file}: no tensor ${n}`, { file, tensor: n, expected: n, received: 'missing' });
    return s;
  };
  const p = target.patchSize;
  const patch = need(names.patch);
  let channels: number;
  if (format === 'timm') {
    if (patch[2] !== p || patch[3] !== p) throw invalid('patchSize', `the weights use ${patch[2]}x${patch[3]} patches, the model ${p}x${p}`, String(p), String(patch[2]), file);
    channels = patch[1]!;
  } else {
    channels = patch[0]! / (p * p);
    if (!Number.isInteger(channels)) throw invalid('patchSize', `the patch embedding's ${patch[0]} rows are not ${p}x${p}xC`, `a multiple of ${p * p}`, String(patch[0]), file);
  }
  if (channels !== target.channels) throw invalid('channels', `the weights take ${channels}-channel images, the model ${target.channels}`, String(target.channels), String(channels), file);
  let grid = target.imageSize / p;
  if (target.posEmb === 'learned') {
    const prefix = target.pool === 'token' ? 1 : 0;
    const rows = (format === 'timm' ? need(names.pos)[1] : need(names.pos)[0])!;
    grid = Math.round(Math.sqrt(rows - prefix));
    if (grid * grid !== rows - prefix) throw invalid('imageSize', `the position table's ${rows} rows are not ${prefix} extra + a square grid`, 'a square patch grid', String(rows), file);
  }
  const head = shapes.get(names.head);
  // timm's num_classes=0 has no head at all: the classifier is new either way.
  const numClasses = head ? (format === 'timm' ? head[0]! : head[1]!) : 0;
  return { channels, grid, numClasses };
}

/** Reads `init` and adapts it to `target` (see the file comment). */
export function loadPretrained(init: PretrainedInit, target: ModelConfig): PretrainedWeights {
  const format = init.format ?? 'native';
  if (format !== 'native' && format !== 'timm') {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `init format must be 'native' or 'timm'`, { field: 'format', expected: 'native | timm', received: String(format) });
  }
  using f = openWeights(init.file, format);
  const source = f.file;
  const shapes = new Map(f.names().map((n) => [n, f.shape(n)]));
  // Refused timm options first (a class token with MAP, register tokens...): they name the model's
  // real difference, where the geometry below would only see an odd position table.
  if (format === 'timm') refusedTimmOption(target, new Map([...shapes].filter(([n]) => !/\.ls[12]\.gamma$/.test(n)).map(([n, shape]) => [n, { shape, data: new Float32Array(0) }])));
  const g = geometry(shapes, format, target, init.file);
  const p = target.patchSize;
  // The weights' own config: the target's, at the weights' image size and class count.
  const fromConfig = validateConfig({ ...target, imageSize: g.grid * p, numClasses: Math.max(g.numClasses, 1) });
  let params: NativeParams;
  const notes: string[] = [];
  if (format === 'timm') {
    const read: TimmStateDict = new Map(f.names().map((n) => [n, { shape: f.shape(n), data: f.readFloat(n) }]));
    const { sd, folded } = foldLayerScale(read);
    if (folded) notes.push(`LayerScale (${folded} gammas) folded into attn.proj / mlp.fc2: the same function, gamma no longer a separate parameter`);
    if (g.numClasses === 0) {
      // Fill the absent classifier with zeros so the mapping sees a whole model; dropped below.
      sd.set('head.weight', { shape: [1, target.width], data: new Float32Array(target.width) });
      sd.set('head.bias', { shape: [1], data: new Float32Array(1) });
    }
    params = timmToNative(fromConfig, sd);
  } else {
    params = new Map();
    const specs = paramSpecs(fromConfig);
    const known = new Set(specs.map((s) => s.name));
    const extra = f.names().filter((n) => !known.has(n));
    if (extra.length) throw new Vit22bError('ERR_INVALID_ARGUMENT', `--init ${init.file}: tensors this model has no parameter for: ${extra.slice(0, 8).join(', ')}`, { file: source, expected: 'our parameter names', received: extra.join(', ') });
    for (const s of specs) {
      if (!f.has(s.name)) throw new Vit22bError('ERR_INVALID_ARGUMENT', `--init ${init.file}: no tensor for parameter ${s.name}`, { file: source, tensor: s.name, expected: s.name, received: 'missing' });
      const shape = f.shape(s.name);
      if (shape.join(',') !== s.shape.join(',')) {
        throw new Vit22bError('ERR_SHAPE_MISMATCH', `--init ${init.file}: ${s.name} is [${shape.join(', ')}], the model's [${s.shape.join(', ')}]`, { file: source, tensor: s.name, expected: JSON.stringify(s.shape), received: JSON.stringify(shape) });
      }
      params.set(s.name, f.readFloat(s.name));
    }
  }
  if (g.numClasses !== target.numClasses) {
    params.delete('head/w');
    params.delete('head/b');
    notes.push(`the classifier is re-initialized: the weights have ${g.numClasses} classes, the task ${target.numClasses}`);
  }
  const gridTo = target.imageSize / p;
  if (target.posEmb === 'learned' && g.grid !== gridTo) {
    const prefix = target.pool === 'token' ? 1 : 0;
    params.set('pos', resamplePosEmbed(params.get('pos')!, target.width, prefix, { height: g.grid, width: g.grid }, { height: gridTo, width: gridTo }));
    notes.push(`position embeddings resampled (bilinear) from a ${g.grid}x${g.grid} to a ${gridTo}x${gridTo} patch grid (${g.grid * p} to ${target.imageSize} pixels)`);
  }
  // Every parameter left must now have the target's shape (the rest of the config is the target's).
  const want = new Map(paramSpecs(target).map((s) => [s.name, s.shape.reduce((a, b) => a * b, 1)]));
  for (const [n, v] of params) {
    if (want.get(n) !== v.length) {
      throw new Vit22bError('ERR_SHAPE_MISMATCH', `--init ${init.file}: ${n} has ${v.length} values, the model ${want.get(n) ?? 'none'}`, { file: source, tensor: n, expected: String(want.get(n) ?? 'absent'), received: String(v.length) });
    }
  }
  return { params, notes, source, from: { imageSize: g.grid * p, numClasses: g.numClasses } };
}
