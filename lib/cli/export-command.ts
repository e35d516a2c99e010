/**
 * `vit22b export`: a checkpoint's parameters as one safetensors file, under our names (native) or
 * timm's VisionTransformer names and layouts (timm), with the model config beside it as JSON, so
 * that the weights leave for PyTorch (load_state_dict on the matching timm VisionTransformer) or
 * come back through `vit22b train --init FILE --weights-format timm` / `vit22b predict`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveCheckpoint, TRAINER_FILE } from '../io/checkpoint';
import { readManifest } from '../io/checkpoint-manifest';
import { openCheckpointWeights } from '../io/checkpoint-weights';
import { writeSafetensors, type SafetensorsTensor } from '../io/safetensors';
import { nativeToTimm } from '../io/timm-names';
import { validateConfig } from '../model/config';
import { paramSpecs } from '../model/params';
import type { Command } from './commands';
import { choice } from './option-values';
import { parseOptions, usageError } from './parse-options';

const EXPORT_USAGE = `usage: vit22b export --checkpoint DIR --output FILE [--format timm|native] [--fuse-out-proj]

Writes the parameters of a checkpoint (a step-<n> directory, or a folder of them: the newest) to
one safetensors file, and its model config to FILE's name with .json.
  --checkpoint DIR     a checkpoint of vit22b train
  --output FILE        the safetensors file to write
  --format F           timm (default: timm VisionTransformer names and layouts) | native (ours)
  --fuse-out-proj      timm, parallel blocks: one out_proj (fuse_out_proj=True) instead of two`;

const SPEC = {
  checkpoint: { type: 'string' },
  output: { type: 'string' },
  format: { type: 'string' },
  'fuse-out-proj': { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const exportCommand: Command = {
  name: 'export',
  aliases: [],
  summary: "a checkpoint's weights as one safetensors file, under timm's names or ours",
  usage: EXPORT_USAGE,
  async run(args, io) {
    const o = parseOptions(args, SPEC, EXPORT_USAGE);
    if (o.help) {
      io.out(EXPORT_USAGE + '\n');
      return 0;
    }
    if (o.checkpoint === undefined) throw usageError('--checkpoint is required', EXPORT_USAGE, 'missing');
    if (o.output === undefined) throw usageError('--output is required', EXPORT_USAGE, 'missing');
    const format = choice(o.format, 'format', ['timm', 'native'], 'timm', EXPORT_USAGE);
    const dir = resolveCheckpoint(o.checkpoint);
    // Verifies every file's hash; either layout (one file, or a mesh's rank files) reads as global tensors.
    using f = openCheckpointWeights(dir);
    const rawConfig = (JSON.parse(fs.readFileSync(path.join(dir, TRAINER_FILE), 'utf8')) as { config?: unknown }).config;
    const config = validateConfig(rawConfig);
    const params = new Map(paramSpecs(config).map((s) => [s.name, f.readFloat(s.name)]));
    const tensors: Record<string, SafetensorsTensor> = {};
    if (format === 'timm') {
      for (const [n, t] of nativeToTimm(config, params, { fuseOutProj: o['fuse-out-proj'] ?? false })) tensors[n] = { dtype: 'F32', shape: t.shape, data: t.data };
    } else {
      for (const s of paramSpecs(config)) tensors[s.name] = { dtype: 'F32', shape: s.shape, data: params.get(s.name)! };
    }
    writeSafetensors(o.output, tensors);
    const configFile = o.output.replace(/\.safetensors$/, '') + '.json';
    fs.writeFileSync(configFile, JSON.stringify(config, null, 2) + '\n');
    const summary = { output: o.output, config: configFile, format, tensors: Object.keys(tensors).length, step: readManifest(dir).step };
    io.out(o.json ? JSON.stringify(summary, null, 2) + '\n' : `wrote ${summary.tensors} tensors (${format} names) of ${dir} to ${o.output}, and its config to ${configFile}\n`);
    return 0;
  },
};
