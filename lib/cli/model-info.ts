/** `vit22b info --model NAME`: a model's config and parameter counts (lib/model countParams). */
import * as fs from 'node:fs';

import { countParams, type ModelConfig, type ParamCounts } from '../model';
import { resolveModel } from './model-option';

export interface ModelInfo {
  model: string;
  config: ModelConfig;
  params: ParamCounts;
}

/** A preset name, or a JSON config file when `name` is a file that exists. */
export function modelInfo(name: string): ModelInfo {
  const isFile = name.endsWith('.json') && fs.existsSync(name);
  const m = isFile ? resolveModel(undefined, name) : resolveModel(name, undefined);
  return { model: m.name, config: m.config, params: countParams(m.config) };
}

const grouped = (n: number) => n.toLocaleString('en-US');

export function formatModelInfo(info: ModelInfo): string {
  const c = info.config;
  const lines = [
    `${info.model}: ${c.imageSize}x${c.imageSize}x${c.channels} images, patch ${c.patchSize}, width ${c.width}, depth ${c.depth}, ` +
      `${c.heads} heads, MLP ${c.mlpDim}, ${c.numClasses} classes`,
    `  ${c.block} blocks, ${c.norm}${c.qkNorm ? `, QK-norm (${c.qkNormCenter ? 'centered' : 'RMS'})` : ''}, ${c.pool} pooling, ${c.posEmb} position embedding`,
    `  parameters: ${grouped(info.params.total)} in all, ${grouped(info.params.blockMatrices)} in the block matrices (Q, K, V, O, MLP)`,
  ];
  return lines.join('\n') + '\n';
}
