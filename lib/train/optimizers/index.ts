/** The optimizers, one module each (optimizer.ts says what a module is). */
import { adafactor, type AdafactorSpec } from './adafactor';
import { adamw, type AdamwSpec } from './adamw';
import { noUpdate, type NoUpdateSpec } from './none';
import type { OptimizerModule } from './optimizer';

export type { AdafactorSpec } from './adafactor';
export type { AdamwSpec } from './adamw';
export type { NoUpdateSpec } from './none';
export type { OptimizerModule, UpdateContext } from './optimizer';

export type OptimizerSpec = AdamwSpec | AdafactorSpec | NoUpdateSpec;

const MODULES: Record<OptimizerSpec['kind'], OptimizerModule<OptimizerSpec>> = {
  adamw: adamw as OptimizerModule<OptimizerSpec>,
  adafactor: adafactor as OptimizerModule<OptimizerSpec>,
  none: noUpdate as OptimizerModule<OptimizerSpec>,
};

export const OPTIMIZER_KINDS = Object.keys(MODULES) as OptimizerSpec['kind'][];

/** The module of an optimizer kind, or undefined. */
export function optimizerModule(kind: string): OptimizerModule<OptimizerSpec> | undefined {
  return Object.hasOwn(MODULES, kind) ? MODULES[kind as OptimizerSpec['kind']] : undefined;
}

/** A run scalar some optimizer derives from the others (Adafactor's decay from step), or undefined. */
export function derivedRunScalar(name: string, scalars: Readonly<Record<string, number>>): number | undefined {
  for (const m of Object.values(MODULES)) {
    const v = m.deriveScalar?.(name, scalars);
    if (v !== undefined) return v;
  }
  return undefined;
}
