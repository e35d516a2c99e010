/**
 * adamw_update(param, grad, m, v [, clipScale]): one AdamW step on persistent buffers, in place
 * (PyTorch's AdamW; formula in lib/kernels/records.ts AdamwHyper). The learning rate and the step number
 * are per-run scalars, so one plan serves every step of a schedule; the clip factor is read from
 * device memory. The fusion pass merges the updates of a model into one adamw_multi launch per set
 * of equal hyper-parameters.
 *
 * Per-parameter overrides (param-overrides.ts) arrive as attrs: `lrMult` scales this parameter's
 * learning rate (the run scalar lr times lrMult) and `weightDecay` is its own. The kernel decays by
 * its own learning rate (param *= 1 - lr' wd'), so wd' = weightDecay / lrMult keeps the decay at
 * lr x weightDecay whatever the multiplier, the rule Adafactor's kernel follows too.
 */
import { Vit22bError } from '../../runtime/errors';
import type { Node, Value } from '../ir';
import type { Attrs, LowerContext, OpDef } from '../op-def';
import { numel, type TensorType } from '../types';
import { numberAttr, requireArity, requireDType, requireShape, storageOf } from './check';

export interface AdamwAttrs {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** This parameter's learning-rate multiplier (> 0 when weightDecay > 0). Default 1. */
  lrMult?: number;
  hasClip?: boolean;
}

export function adamwHyper(ctx: LowerContext, attrs: AdamwAttrs, clip: Value | undefined) {
  const lrMult = attrs.lrMult ?? 1;
  const wd = attrs.weightDecay ?? 0;
  return {
    step: ctx.runtimeScalar('step'),
    lr: ctx.runtimeScalar('lr', lrMult),
    beta1: attrs.beta1 ?? 0.9,
    beta2: attrs.beta2 ?? 0.999,
    eps: attrs.eps ?? 1e-8,
    weightDecay: wd === 0 ? 0 : wd / lrMult,
    gradScale: clip ? { read: ctx.view(clip) } : 1,
  };
}

export function checkAdamwAttrs(op: string, attrs: Attrs): void {
  numberAttr(op, 'beta1', attrs.beta1, { min: 0, max: 1, fallback: 0.9 });
  numberAttr(op, 'beta2', attrs.beta2, { min: 0, max: 1, fallback: 0.999 });
  numberAttr(op, 'eps', attrs.eps, { min: 0, fallback: 1e-8 });
  const wd = numberAttr(op, 'weightDecay', attrs.weightDecay, { min: 0, fallback: 0 });
  const mult = numberAttr(op, 'lrMult', attrs.lrMult, { min: 0, fallback: 1 });
  if (wd > 0 && mult === 0) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `${op}: a parameter with lrMult 0 cannot have weight decay (AdamW decays by its own learning rate)`, {
      expected: 'weightDecay 0 with lrMult 0, or lrMult > 0',
      received: `lrMult 0, weightDecay ${wd}`,
    });
  }
}

export const adamwUpdateOp: OpDef = {
  name: 'adamw_update',
  effect: true,
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    requireArity('adamw_update', inputs, attrs.hasClip ? 5 : 4);
    const [p, g, m, v] = inputs as [TensorType, TensorType, TensorType, TensorType];
    requireDType('adamw_update', 'param', p, ['f32']);
    requireDType('adamw_update', 'grad', g, ['f32', 'bf16']);
    for (const [name, t] of [['grad', g], ['m', m], ['v', v]] as const) requireShape('adamw_update', name, t, p.shape);
    requireDType('adamw_update', 'm', m, ['f32']);
    requireDType('adamw_update', 'v', v, ['f32']);
    checkAdamwAttrs('adamw_update', attrs);
    return [];
  },
  lower(ctx: LowerContext, node: Node): void {
    const [p, g, m, v, clip] = node.inputs as [Value, Value, Value, Value, Value | undefined];
    ctx.emit('adamw', {
      n: numel(p.shape),
      gradType: storageOf('adamw_update', 'grad', g.dtype),
      param: ctx.view(p),
      grad: ctx.view(g),
      m: ctx.view(m),
      v: ctx.view(v),
      ...adamwHyper(ctx, node.attrs as AdamwAttrs, clip),
    });
  },
};

/** adamw_multi_update(p1, g1, m1, v1, p2, ... [, clipScale]): the merged form (fusion pass). */
export const adamwMultiUpdateOp: OpDef = {
  name: 'adamw_multi_update',
  effect: true,
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    const quads = inputs.length - (attrs.hasClip ? 1 : 0);
    for (let i = 0; i < quads; i += 4) adamwUpdateOp.infer(inputs.slice(i, i + 4), { ...attrs, hasClip: false });
    return [];
  },
  lower(ctx: LowerContext, node: Node): void {
    const at = node.attrs as AdamwAttrs;
    const quads = node.inputs.length - (at.hasClip ? 1 : 0);
    const tensors = [];
    for (let i = 0; i < quads; i += 4) {
      const [p, g, m, v] = node.inputs.slice(i, i + 4) as [Value, Value, Value, Value];
      tensors.push({ n: numel(p.shape), gradType: storageOf('adamw_multi_update', 'grad', g.dtype), param: ctx.view(p), grad: ctx.view(g), m: ctx.view(m), v: ctx.view(v) });
    }
    ctx.emit('adamw_multi', { tensors, ...adamwHyper(ctx, at, at.hasClip ? node.inputs[quads] : undefined) });
  },
};
