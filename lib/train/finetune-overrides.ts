/**
 * Fine-tuning learning rates as per-parameter optimizer overrides (lrMult, weightDecay; see
 * lib/graph/param-overrides.ts), one exact name per parameter so nothing depends on pattern order:
 * - headLrMult: the classifier (head/w, head/b) learns this many times faster than --lr (a new head
 *   on a pretrained body wants a larger step than the body);
 * - layerDecay d (BEiT / big_vision style): block i of L gets d^(L - i), the embeddings (patch,
 *   position, class token) d^(L + 1), the final norm, MAP head and classifier 1;
 * - freeze 'body': every parameter but the classifier gets lrMult 0 and no weight decay, so it
 *   never changes (a linear probe trained end to end through the same step).
 * The multipliers compose (product); `base` overrides (adafactor's head decay) are kept.
 */
import type { ParamOverride, ParamOverrides } from '../graph/param-overrides';
import type { ModelConfig } from '../model/config';
import { paramSpecs } from '../model/params';
import { Vit22bError } from '../runtime/errors';

export interface FineTuneOptions {
  headLrMult?: number;
  layerDecay?: number;
  freeze?: 'none' | 'body';
}

const isHead = (name: string): boolean => name === 'head/w' || name === 'head/b';

/** The layer-decay exponent of a parameter: blocks count down from the top, embeddings below block 0. */
function depthFromTop(name: string, depth: number): number {
  const m = /^block(\d+)\//.exec(name);
  if (m) return depth - Number(m[1]);
  if (name.startsWith('embed/') || name === 'pos' || name === 'cls') return depth + 1;
  return 0;
}

function check(name: string, v: number | undefined, min: number, max: number): void {
  if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max)) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `fine-tuning option ${name} must be in [${min}, ${max}]`, { field: name, expected: `a number in [${min}, ${max}]`, received: String(v) });
  }
}

export function fineTuneOverrides(config: ModelConfig, o: FineTuneOptions, base: ParamOverrides = {}): ParamOverrides {
  check('headLrMult', o.headLrMult, 0, 1e6);
  check('layerDecay', o.layerDecay, Number.MIN_VALUE, 1);
  if (o.freeze !== undefined && o.freeze !== 'none' && o.freeze !== 'body') {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', "fine-tuning option freeze must be 'none' or 'body'", { field: 'freeze', expected: 'none | body', received: String(o.freeze) });
  }
  if (o.headLrMult === undefined && o.layerDecay === undefined && (o.freeze ?? 'none') === 'none') return base;
  const out: Record<string, ParamOverride> = {};
  for (const { name } of paramSpecs(config)) {
    const own: ParamOverride = { ...(base[name] ?? {}) };
    let mult = own.lrMult ?? 1;
    if (isHead(name)) mult *= o.headLrMult ?? 1;
    else if (o.freeze === 'body') {
      out[name] = { lrMult: 0, weightDecay: 0 };
      continue;
    }
    if (o.layerDecay !== undefined) mult *= o.layerDecay ** depthFromTop(name, config.depth);
    out[name] = { ...own, lrMult: mult };
  }
  // Patterns of `base` still apply to what no exact name above covers (none today; kept for safety).
  for (const [k, v] of Object.entries(base)) if (!(k in out) && k.includes('*')) out[k] = v;
  return out;
}
