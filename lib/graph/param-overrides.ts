/**
 * Per-parameter optimizer settings: `{ 'head/w': { weightDecay: 3 }, 'block*': { lrMult: 0.5 } }`.
 * A key is a parameter name or a pattern where `*` matches any run of characters ('/' included).
 * An exact name wins over patterns; among patterns the first listed wins (object key order), as in
 * big_vision's ordered (regex, value) lists. A key that matches no parameter is an error: a typo
 * there would otherwise silently train with the default decay.
 */
import { Vit22bError } from '../runtime/errors';

export interface ParamOverride {
  /** Multiplies this parameter's step (the gradient term of the update). Default 1. */
  lrMult?: number;
  /** This parameter's decoupled weight decay (replaces the optimizer's). */
  weightDecay?: number;
}

export type ParamOverrides = Readonly<Record<string, ParamOverride>>;

export interface ResolvedOverride {
  lrMult: number;
  weightDecay: number;
}

function globToRegExp(pattern: string): RegExp {
  const escaped = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`);
}

function checkOverride(key: string, o: unknown): ParamOverride {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `optimizer override '${key}' must be an object`, {
      expected: '{ lrMult?, weightDecay? }',
      received: JSON.stringify(o),
    });
  }
  for (const [field, v] of Object.entries(o)) {
    if (field !== 'lrMult' && field !== 'weightDecay') {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', `optimizer override '${key}' has an unknown field '${field}'`, {
        expected: 'lrMult | weightDecay',
        received: field,
      });
    }
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', `optimizer override '${key}'.${field} must be a finite number >= 0`, {
        expected: 'a finite number >= 0',
        received: String(v),
      });
    }
  }
  return o as ParamOverride;
}

/** The (lrMult, weightDecay) of every parameter, defaults filled in. */
export function resolveOverrides(names: readonly string[], defaultDecay: number, overrides: ParamOverrides = {}): Map<string, ResolvedOverride> {
  const entries = Object.entries(overrides ?? {}).map(([key, o]) => ({ key, o: checkOverride(key, o), re: key.includes('*') ? globToRegExp(key) : undefined }));
  const used = new Set<string>();
  const out = new Map<string, ResolvedOverride>();
  for (const name of names) {
    const hit = entries.find((e) => e.key === name) ?? entries.find((e) => e.re?.test(name));
    if (hit) used.add(hit.key);
    out.set(name, { lrMult: hit?.o.lrMult ?? 1, weightDecay: hit?.o.weightDecay ?? defaultDecay });
  }
  for (const e of entries) {
    if (!used.has(e.key) && !names.some((n) => (e.re ? e.re.test(n) : n === e.key))) {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', `optimizer override '${e.key}' matches no parameter`, {
        expected: `a parameter name or pattern, e.g. ${names.slice(0, 6).join(', ')}${names.length > 6 ? ', ...' : ''}`,
        received: e.key,
      });
    }
  }
  return out;
}
