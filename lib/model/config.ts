/**
 * The model configuration, validated at the boundary: every field checked, every bad value a typed
 * error naming the field (ERR_INVALID_CONFIG with expected and received), including the relations
 * between fields (heads dividing the width, the patch dividing the image).
 */
import type { GeluForm } from '../graph/ops/gelu';
import { Vit22bError } from '../runtime/errors';

/** Defaults of the optional fields: timm's norm epsilon, and the tanh GELU this model always used. */
export const DEFAULT_NORM_EPS = 1e-6;
export const DEFAULT_GELU: GeluForm = 'tanh';

export interface ModelConfig {
  imageSize: number;
  patchSize: number;
  channels: number;
  width: number;
  depth: number;
  heads: number;
  mlpDim: number;
  numClasses: number;
  /** 'parallel': y = x + MLP(norm(x)) + Attention(norm(x)) (ViT-22B); 'sequential': the classic pre-norm block. */
  block: 'parallel' | 'sequential';
  /** Normalize queries and keys per head before the dot product (ViT-22B). */
  qkNorm: boolean;
  /** Whether that normalization centers (LayerNorm) or not (RMSNorm); the paper leaves it open. */
  qkNormCenter: boolean;
  qkvBias: boolean;
  mlpBias: boolean;
  norm: 'rmsnorm' | 'layernorm';
  /** A bias in the (layer) norms; ViT-22B has none. */
  normBias: boolean;
  pool: 'map' | 'gap' | 'token';
  posEmb: 'learned' | 'sincos2d';
  /** Initial value of the classifier bias (-10 in the paper's recipe). */
  headBiasInit: number;
  /** Epsilon of every norm (blocks, QK-norm, final, MAP); optional, DEFAULT_NORM_EPS (timm's 1e-6). */
  normEps?: number;
  /** GELU form: 'tanh' (ViT-22B; the default) or 'erf' (torch's nn.GELU, timm's default). */
  gelu?: GeluForm;
  /**
   * With pool 'gap': normalize the pooled features (timm's fc_norm, its default for average pooling)
   * instead of every token before pooling. Optional, default false.
   */
  fcNorm?: boolean;
}

/** Fields that may be left out; validateConfig fills them in so older configs keep working. */
const F32_MIN_NORMAL = 2 ** -126;
const F32_MAX = 3.4028234663852886e38;
const INT32_MAX = 2 ** 31 - 1;

const OPTIONAL: Readonly<Record<string, unknown>> = { normEps: DEFAULT_NORM_EPS, gelu: DEFAULT_GELU, fcNorm: false };

const FIELDS: { [K in keyof ModelConfig]: { kind: 'int' | 'bool' | 'number' | readonly string[]; min?: number } } = {
  imageSize: { kind: 'int', min: 1 },
  patchSize: { kind: 'int', min: 1 },
  channels: { kind: 'int', min: 1 },
  width: { kind: 'int', min: 1 },
  depth: { kind: 'int', min: 0 },
  heads: { kind: 'int', min: 1 },
  mlpDim: { kind: 'int', min: 1 },
  numClasses: { kind: 'int', min: 1 },
  block: { kind: ['parallel', 'sequential'] },
  qkNorm: { kind: 'bool' },
  qkNormCenter: { kind: 'bool' },
  qkvBias: { kind: 'bool' },
  mlpBias: { kind: 'bool' },
  norm: { kind: ['rmsnorm', 'layernorm'] },
  normBias: { kind: 'bool' },
  pool: { kind: ['map', 'gap', 'token'] },
  posEmb: { kind: ['learned', 'sincos2d'] },
  headBiasInit: { kind: 'number' },
  // The smallest normal f32: anything below flushes toward 0 in the kernels.
  normEps: { kind: 'number', min: F32_MIN_NORMAL },
  gelu: { kind: ['tanh', 'erf'] },
  fcNorm: { kind: 'bool' },
};

function configError(field: string, message: string, expected: string, received: unknown): Vit22bError {
  return new Vit22bError('ERR_INVALID_CONFIG', `model config: ${field} ${message}`, {
    expected,
    received: typeof received === 'string' ? received : shortJson(received),
    field,
  });
}

/** A value for a message: JSON, cut short; a value too deep for JSON.stringify's recursion says so. */
function shortJson(v: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(v) ?? String(v);
  } catch {
    text = Array.isArray(v) ? '[...] (too deeply nested)' : '{...} (too deeply nested)';
  }
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

/** Checks every field and relation; returns a clean copy (unknown fields are an error too). */
export function validateConfig(input: unknown): ModelConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw configError('(root)', 'must be an object', 'an object of model fields', input);
  }
  const raw = input as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    // Own properties only: "constructor" or "__proto__" are not model fields.
    if (!Object.hasOwn(FIELDS, key)) throw configError(key, 'is not a model field', Object.keys(FIELDS).join(', '), key);
  }
  const out: Record<string, unknown> = {};
  for (const [field, rule] of Object.entries(FIELDS)) {
    let v = raw[field];
    if (v === undefined && Object.hasOwn(OPTIONAL, field)) v = OPTIONAL[field];
    if (v === undefined) throw configError(field, 'is missing', describe(rule), 'undefined');
    if (Array.isArray(rule.kind)) {
      if (!rule.kind.includes(v as string)) throw configError(field, 'has an unknown value', rule.kind.join(' | '), v);
    } else if (rule.kind === 'bool') {
      if (typeof v !== 'boolean') throw configError(field, 'must be a boolean', 'true | false', v);
    } else {
      // Numbers reach the kernels as f32 and int32: a value that does not survive that (normEps
      // 1e-300 becomes 0, 1e39 becomes inf) would pass here and fail later inside a kernel.
      const ok =
        typeof v === 'number' &&
        Number.isFinite(v) &&
        Number.isFinite(Math.fround(v)) &&
        (rule.kind !== 'int' || (Number.isSafeInteger(v) && v <= INT32_MAX)) &&
        (rule.min === undefined || v >= rule.min);
      if (!ok) throw configError(field, 'is out of range', describe(rule), v);
    }
    out[field] = v;
  }
  const c = out as unknown as ModelConfig;
  if (c.width % c.heads !== 0) throw configError('heads', `must divide the width ${c.width}`, `a divisor of ${c.width}`, c.heads);
  if (c.imageSize % c.patchSize !== 0) {
    throw configError('patchSize', `must divide the image size ${c.imageSize}`, `a divisor of ${c.imageSize}`, c.patchSize);
  }
  if (c.fcNorm && c.pool !== 'gap') throw configError('fcNorm', "normalizes pooled features: it needs pool 'gap'", "false, or pool 'gap'", c.fcNorm);
  if (c.posEmb === 'sincos2d' && (c.width / c.heads) % 1 !== 0) throw configError('posEmb', 'needs an integer head width', 'width divisible by heads', c.width);
  if (c.posEmb === 'sincos2d' && c.width % 4 !== 0) throw configError('width', 'must be a multiple of 4 for sincos2d position embeddings', 'a multiple of 4', c.width);
  return c;
}

function describe(rule: { kind: unknown; min?: number }): string {
  if (rule.kind === 'int') return `an integer in [${rule.min ?? 0}, ${INT32_MAX}]`;
  if (rule.kind === 'number') return rule.min === undefined ? `a finite f32 number (|x| <= ${F32_MAX})` : `a finite f32 number in [${rule.min}, ${F32_MAX}]`;
  return String(rule.kind);
}

/** Tokens per image: (imageSize / patchSize)^2. */
export function tokensOf(c: ModelConfig): number {
  return (c.imageSize / c.patchSize) ** 2;
}
