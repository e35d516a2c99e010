/**
 * Named configurations: the ViT sizes of Dosovitskiy et al. / Zhai et al. (Ti to e), ViT-22B with the
 * paper's architecture switches on (parallel blocks, QK-norm, no QKV or norm biases, RMSNorm, MAP
 * head, head bias -10), and `tiny`, the same recipe scaled down for 28x28 grayscale inputs (the one
 * CI and `vit22b train` use on the CPU).
 */
import { Vit22bError } from '../runtime/errors';
import { validateConfig, type ModelConfig } from './config';

/** The classic ViT block: sequential, LayerNorm with bias, QKV bias, no QK-norm, class token. */
const classic = {
  block: 'sequential',
  qkNorm: false,
  qkNormCenter: true,
  qkvBias: true,
  mlpBias: true,
  norm: 'layernorm',
  normBias: true,
  pool: 'token',
  posEmb: 'learned',
  headBiasInit: 0,
} as const;

/** ViT-22B's switches (../shared/design/VIT22B.md). */
const vit22bRecipe = {
  block: 'parallel',
  qkNorm: true,
  qkNormCenter: false,
  qkvBias: false,
  mlpBias: true,
  norm: 'rmsnorm',
  normBias: false,
  pool: 'map',
  posEmb: 'learned',
  headBiasInit: -10,
} as const;

const imagenet = { imageSize: 224, channels: 3, numClasses: 1000 };

const table: Record<string, ModelConfig> = {
  'vit-ti/16': { ...imagenet, ...classic, patchSize: 16, width: 192, depth: 12, heads: 3, mlpDim: 768 },
  'vit-s/16': { ...imagenet, ...classic, patchSize: 16, width: 384, depth: 12, heads: 6, mlpDim: 1536 },
  'vit-b/16': { ...imagenet, ...classic, patchSize: 16, width: 768, depth: 12, heads: 12, mlpDim: 3072 },
  'vit-l/16': { ...imagenet, ...classic, patchSize: 16, width: 1024, depth: 24, heads: 16, mlpDim: 4096 },
  'vit-h/14': { ...imagenet, ...classic, patchSize: 14, width: 1280, depth: 32, heads: 16, mlpDim: 5120 },
  // ViT-G and ViT-e (Zhai et al.) use a MAP head.
  'vit-g/14': { ...imagenet, ...classic, pool: 'map', patchSize: 14, width: 1664, depth: 48, heads: 16, mlpDim: 8192 },
  'vit-e/14': { ...imagenet, ...classic, pool: 'map', patchSize: 14, width: 1792, depth: 56, heads: 16, mlpDim: 15360 },
  'vit-22b/14': { ...imagenet, ...vit22bRecipe, patchSize: 14, width: 6144, depth: 48, heads: 48, mlpDim: 24576 },
  // 28x28x1 (Fashion-MNIST, the synthetic set): 4x4 patches, 49 tokens.
  tiny: { imageSize: 28, channels: 1, numClasses: 10, ...vit22bRecipe, headBiasInit: 0, patchSize: 4, width: 64, depth: 4, heads: 4, mlpDim: 128 },
};

export function presetNames(): string[] {
  return Object.keys(table);
}

/** A preset by name, with `overrides` applied and the result validated. */
export function getPreset(name: string, overrides: Partial<ModelConfig> = {}): ModelConfig {
  // Own properties only: '__proto__' or 'toString' is not a preset (and must not say a field is missing).
  const base = typeof name === 'string' && Object.hasOwn(table, name) ? table[name] : undefined;
  if (!base) {
    throw new Vit22bError('ERR_INVALID_CONFIG', `unknown model preset '${name}'`, { expected: presetNames().join(', '), received: String(name), field: 'preset' });
  }
  return validateConfig({ ...base, ...overrides });
}
