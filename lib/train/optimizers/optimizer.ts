/**
 * What an optimizer is to the compiler: one module per optimizer (adamw.ts, adafactor.ts, none.ts)
 * holding its spec, the state it keeps per parameter, the graph ops of its update, and the run
 * scalars it derives, so adding an optimizer, or sharding one, touches one file.
 * lib/graph/training-step.ts calls `update` once per parameter, after the gradients, the global
 * norm, the non-finite guard and the clip factor exist.
 */
import type { Graph, Value } from '../../graph/ir';
import type { LeafLayout } from '../../graph/passes/partition';

/** What a parameter's update sees. */
export interface UpdateContext {
  g: Graph;
  /** The parameter's (global) name. */
  name: string;
  /** This device's parameter and its gradient (a slice of the global one under a mesh). */
  param: Value;
  grad: Value;
  /** Under a mesh: the global tensor the parameter is a slice of. */
  layout?: LeafLayout;
  /** The global-norm clip factor (f32 []), when clipping is on. */
  clip?: Value;
  /** Per-parameter overrides, resolved (param-overrides.ts). */
  lrMult: number;
  weightDecay: number;
  /**
   * A zero-initialized persistent state leaf. Without `shape`, the parameter's shape and layout
   * (a slice like the parameter); with one, whole on every device unless `layout` says otherwise.
   */
  state(name: string, options?: { dtype?: string; shape?: readonly number[]; layout?: LeafLayout }): Value;
}

export interface OptimizerModule<S extends { kind: string }> {
  kind: S['kind'];
  /** Appends one parameter's update (the update phase). */
  update(spec: S, ctx: UpdateContext): void;
  /**
   * A run scalar the optimizer derives from the others when the caller does not give it (Adafactor's
   * `decay` from `step`), or undefined.
   */
  deriveScalar?(name: string, scalars: Readonly<Record<string, number>>): number | undefined;
}

/** attrs without undefined values (an op's numberAttr defaults apply). */
export function withoutUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
