/**
 * AdamW: first and second moments per element (f32, the parameter's shape and slice), decoupled
 * weight decay. Elementwise, so a slice of a parameter updates like the whole: nothing to do under
 * a mesh.
 */
import type { ParamOverrides } from '../../graph/param-overrides';
import { withoutUndefined, type OptimizerModule } from './optimizer';

export interface AdamwSpec {
  kind: 'adamw';
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay: each step multiplies a parameter by 1 - lr x weightDecay. */
  weightDecay?: number;
  /** Per-parameter lrMult / weightDecay by name or `*` pattern (param-overrides.ts). */
  overrides?: ParamOverrides;
}

export const adamw: OptimizerModule<AdamwSpec> = {
  kind: 'adamw',
  update(spec, c) {
    const inputs = [c.param, c.grad, c.state(`adamw/m/${c.name}`), c.state(`adamw/v/${c.name}`)];
    const hyper = { beta1: spec.beta1, beta2: spec.beta2, eps: spec.eps, weightDecay: c.weightDecay, lrMult: c.lrMult, hasClip: !!c.clip };
    c.g.add('adamw_update', c.clip ? [...inputs, c.clip] : inputs, withoutUndefined(hyper));
  },
};
