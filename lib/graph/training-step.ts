/**
 * Turns a forward graph into one whole training step: gradients of a named scalar output with
 * respect to every parameter (each written to a persistent `grad/<name>` buffer, readable between
 * steps), the global gradient norm (output `gradNorm`), the non-finite guard, optional global-norm
 * clipping computed on the device, and the optimizer update as ops on persistent state. One
 * program, one plan, one call.
 *
 * Order of the update phase, and why:
 *   global_norm -> assert_finite(loss), assert_finite(gradNorm) -> [grad_clear] -> clip_scale -> updates
 * The guard comes before anything persistent is written, so a NaN or infinite loss or gradient
 * rejects the run with ERR_NON_FINITE and leaves parameters and optimizer state as they were.
 *
 * Gradient accumulation (`accumulate: true`): mode 'accumulate' runs forward and backward and adds
 * the gradients into persistent `gradacc/<name>` buffers (guarded the same way, so a bad micro-batch
 * adds nothing); mode 'train' adds its own micro-batch, applies the MEAN over the k micro-batches
 * (Program.run supplies 1/k as the run scalar 'gradMean') and clears the accumulators. With mean
 * losses this is the update of one batch k times larger.
 */
import { Vit22bError } from '../runtime/errors';
import { differentiate } from './autodiff';
import type { Graph, Value } from './ir';
import type { LeafLayout } from './passes/partition';
import { MESH_AXES, splitOver, type MeshAxis } from './sharding';
import { getOp } from './op-table';
import { resolveOverrides } from './param-overrides';
import { OPTIMIZER_KINDS, optimizerModule, type OptimizerSpec } from '../train/optimizers';

export type { ParamOverride, ParamOverrides } from './param-overrides';

// Each optimizer is one module (its spec, its state, its update ops, its derived run scalars):
// lib/train/optimizers/.
export type { AdamwSpec, AdafactorSpec, NoUpdateSpec, OptimizerSpec } from '../train/optimizers';


export interface TrainingStepOptions {
  /** The graph output to minimize (a scalar). */
  loss: string;
  optimizer: OptimizerSpec;
  /** Clip the global gradient norm to this value (off when absent). */
  clipNorm?: number;
  /** Gradient accumulation over micro-batches: enables run mode 'accumulate'. Default false. */
  accumulate?: boolean;
  /** Reject a step whose loss or gradient norm is NaN/inf before it updates anything. Default true. */
  checkFinite?: boolean;
}

/** Which part of a training program a variant is: a whole step, or a micro-batch to accumulate. */
export type TrainingMode = 'train' | 'accumulate';

function checkOptions(g: Graph, options: TrainingStepOptions, mode: TrainingMode): Value {
  const loss = g.outputs.get(options.loss);
  if (!loss) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `the graph has no output '${options.loss}' to minimize`, {
      expected: `one of ${[...g.outputs.keys()].join(', ') || '(no outputs)'}`,
      received: options.loss,
    });
  }
  const kind = options.optimizer?.kind;
  if (!optimizerModule(String(kind))) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', 'unknown optimizer', { expected: OPTIMIZER_KINDS.join(' | '), received: String(kind) });
  }
  if (mode === 'accumulate' && !options.accumulate) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', "run mode 'accumulate' needs a program compiled with train.accumulate", {
      expected: 'train: { ..., accumulate: true }',
      received: 'accumulate: false',
    });
  }
  return loss;
}

/** Appends the backward pass and the update; returns the gradient value of each parameter by name. */
export function appendTrainingStep(g: Graph, options: TrainingStepOptions, mode: TrainingMode = 'train'): Map<string, Value> {
  const loss = checkOptions(g, options, mode);
  const paramNodes = g.leaves('param');
  const names = paramNodes.map((n) => n.attrs.name as string);
  const params = paramNodes.map((n) => n.outputs[0]!);
  const grads = differentiate(g, loss, params);
  // Under a mesh a parameter is one device's slice of a global tensor (its `layout`); the gradient
  // and the optimizer state of the same shape are slices of the same global layout.
  const layouts = paramNodes.map((n) => n.attrs.layout as LeafLayout | undefined);
  const state = (name: string, shape: readonly number[], dtype = 'f32', layout?: LeafLayout) =>
    g.apply('state', [], { name, shape, dtype, init: { dist: 'constant', value: 0 }, ...(layout ? { layout } : {}) });
  const stateLike = (name: string, i: number, dtype = 'f32') => state(name, params[i]!.shape, dtype, layouts[i]);
  const guard = (norm: Value) => {
    if (options.checkFinite === false) return;
    if (loss.dtype === 'f32') g.add('assert_finite', [loss], { what: options.loss });
    g.add('assert_finite', [norm], { what: 'gradNorm' });
  };

  if (mode === 'accumulate') {
    g.phase = 'update';
    const norm = globalNorm(g, grads, layouts);
    g.setOutput('gradNorm', norm);
    guard(norm);
    grads.forEach((d, i) => g.add('grad_accumulate', [stateLike(`gradacc/${names[i]}`, i), d]));
    g.phase = 'forward';
    return new Map(names.map((n, i) => [n, grads[i]!]));
  }

  g.phase = 'backward';
  const taken = new Set<Value>();
  const named = new Map<string, Value>();
  const accumulators: Value[] = [];
  grads.forEach((d, i) => {
    const name = names[i]!;
    let grad = d;
    if (options.accumulate) {
      const acc = stateLike(`gradacc/${name}`, i);
      accumulators.push(acc);
      grad = g.apply('grad_mean', [acc, d]);
    } else {
      // Each gradient gets its own buffer: a view, a leaf or a value shared with another gradient
      // cannot be placed in a persistent slot of its own, so those are copied.
      const def = getOp(d.node.op);
      if (def.view || def.leaf || taken.has(d) || d.persistentName !== undefined) grad = g.apply('copy', [d]);
    }
    taken.add(grad);
    grad.persistentName = `grad/${name}`;
    if (layouts[i]) grad.persistentLayout = layouts[i];
    named.set(name, grad);
  });

  g.phase = 'update';
  const norm = globalNorm(g, [...named.values()], layouts);
  g.setOutput('gradNorm', norm);
  guard(norm);
  for (const acc of accumulators) g.add('grad_clear', [acc]);
  const opt = options.optimizer;
  // Gradients only: nothing to clip or update (clipNorm, which only scales the update, is moot).
  if (opt.kind === 'none') {
    g.phase = 'forward';
    return named;
  }
  const clip = options.clipNorm === undefined ? undefined : g.apply('clip_scale', [norm], { maxNorm: options.clipNorm });
  const resolved = resolveOverrides(names, opt.weightDecay ?? 0, opt.overrides);
  const module = optimizerModule(opt.kind)!;
  paramNodes.forEach((_pn, i) => {
    const name = names[i]!;
    const { lrMult, weightDecay } = resolved.get(name)!;
    module.update(opt, {
      g,
      name,
      param: params[i]!,
      grad: named.get(name)!,
      ...(layouts[i] ? { layout: layouts[i] } : {}),
      ...(clip ? { clip } : {}),
      lrMult,
      weightDecay,
      state: (stateName, o = {}) => state(stateName, o.shape ?? params[i]!.shape, o.dtype ?? 'f32', o.shape ? o.layout : layouts[i]),
    });
  });
  g.phase = 'forward';
  return named;
}

/**
 * The global gradient norm. Gradients of weights split over a mesh axis (`model`, or `data` under
 * ZeRO-3) are slices: their sums of squares add up across that axis. The slices are grouped by the
 * axes that split them; each group's norm on this rank is all-gathered over those axes (a few
 * floats), and global_norm over [the whole ones' norm, every gathered norm] is then the norm of
 * everything, the same on every rank (every rank takes the same clipping and non-finite decisions).
 */
function globalNorm(g: Graph, grads: Value[], layouts: readonly (LeafLayout | undefined)[]): Value {
  const mesh = g.mesh ?? { data: 1, model: 1 };
  const axesOf = (i: number) => MESH_AXES.filter((a) => mesh[a] > 1 && !!layouts[i] && splitOver(layouts[i]!.dims, a));
  const groups = new Map<string, Value[]>();
  grads.forEach((d, i) => {
    const key = axesOf(i).join(',');
    groups.set(key, [...(groups.get(key) ?? []), d]);
  });
  if (groups.size === 1 && groups.has('')) return g.apply('global_norm', grads);
  const parts: Value[] = [];
  for (const [key, members] of groups) {
    let norm = g.apply('global_norm', members);
    if (key !== '') for (const axis of key.split(',') as MeshAxis[]) norm = g.apply('all_gather', [norm], { axis, ranks: mesh[axis] });
    parts.push(norm);
  }
  return g.apply('global_norm', parts);
}
