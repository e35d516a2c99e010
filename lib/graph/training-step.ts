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
import { adafactorLayout } from '../runtime/ops/adafactor';
import { differentiate } from './autodiff';
import type { Graph, Value } from './ir';
import type { LeafLayout } from './passes/partition';
import { splitOver } from './sharding';
import { getOp } from './op-table';
import { resolveOverrides, type ParamOverrides } from './param-overrides';

export type { ParamOverride, ParamOverrides } from './param-overrides';

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

/**
 * big_vision's Adafactor (the ViT-G / ViT-e / ViT-22B optimizer): factored second moment for
 * parameters whose matrix view has both dims >= minDimToFactor, beta2_t = min(0.999, 1 - t^-0.8)
 * (the run scalar `decay`, derived from `step` unless given), momentum 0.9 stored in bf16, decoupled
 * weight decay scaled by the learning rate. The paper's recipe: weightDecay 0.03 for the body and
 * `overrides: { 'head/w': { weightDecay: 3 } }`.
 */
export interface AdafactorSpec {
  kind: 'adafactor';
  /** Momentum decay (no debiasing). Default 0.9. */
  beta1?: number;
  /** Added to grad^2 (epsilon1). Default 1e-30. */
  eps?: number;
  weightDecay?: number;
  /** Storage of the momentum: 'bf16' (the recipe, default) or 'f32'. */
  momentumDtype?: 'bf16' | 'f32';
  /** Factor when both dims are at least this. Default 32. */
  minDimToFactor?: number;
  /** Block-RMS update clipping; 0 (default, the recipe) is off. */
  clipThreshold?: number;
  overrides?: ParamOverrides;
}

/**
 * Gradients only: the loss, the backward pass, every gradient in its persistent `grad/<name>`
 * buffer and the `gradNorm` output, and no update (parameters change only by Program.write). For
 * solvers that own their update on the host, such as the linear probe's L-BFGS, which evaluates an
 * objective and its gradient on the device. Needs no run scalars (no lr, no step).
 */
export interface NoUpdateSpec {
  kind: 'none';
}

export type OptimizerSpec = AdamwSpec | AdafactorSpec | NoUpdateSpec;

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
  if (kind !== 'adamw' && kind !== 'adafactor' && kind !== 'none') {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', 'unknown optimizer', { expected: 'adamw | adafactor | none', received: String(kind) });
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
  paramNodes.forEach((_pn, i) => {
    const name = names[i]!;
    const p = params[i]!;
    const grad = named.get(name)!;
    const { lrMult, weightDecay } = resolved.get(name)!;
    if (opt.kind === 'adamw') {
      const inputs = [p, grad, stateLike(`adamw/m/${name}`, i), stateLike(`adamw/v/${name}`, i)];
      const hyper = { beta1: opt.beta1, beta2: opt.beta2, eps: opt.eps, weightDecay, lrMult, hasClip: !!clip };
      g.add('adamw_update', clip ? [...inputs, clip] : inputs, withoutUndefined(hyper));
      return;
    }
    const minDim = opt.minDimToFactor ?? 32;
    // Whether to factor is the global tensor's property; rows and cols are this device's slice.
    const factored = adafactorLayout(layouts[i]?.shape ?? p.shape, minDim).factored;
    const layout = { ...adafactorLayout(p.shape, minDim), factored };
    const hyper = { beta1: opt.beta1, eps: opt.eps, weightDecay, lrMult, clipThreshold: opt.clipThreshold, hasClip: !!clip };
    const momentum = stateLike(`adafactor/m/${name}`, i, opt.momentumDtype ?? 'bf16');
    const splitDim = (g.mesh?.model ?? 1) > 1 && layouts[i] ? layouts[i]!.dims.findIndex((d) => d?.axis === 'model') : -1;
    if (factored && splitDim >= 0) {
      shardedAdafactor(g, { name, p, grad, momentum, clip, layout, hyper, dims: layouts[i]!, splitDim, state });
      return;
    }
    const second = factored
      ? [state(`adafactor/vr/${name}`, [layout.rows]), state(`adafactor/vc/${name}`, [layout.cols])]
      : [stateLike(`adafactor/v/${name}`, i)];
    const inputs = [p, grad, momentum, ...second];
    g.add('adafactor_update', clip ? [...inputs, clip] : inputs, withoutUndefined({ ...layout, ...hyper }));
  });
  g.phase = 'forward';
  return named;
}

/**
 * The global gradient norm. Gradients of weights split over `model` are slices: their sums of
 * squares add up across the model ranks. Each rank's norm of its slices is all-gathered (k floats)
 * and global_norm over [norm of the whole ones, those k norms] is then the norm of everything,
 * the same on every rank (every rank takes the same clipping and non-finite decisions).
 */
function globalNorm(g: Graph, grads: Value[], layouts: readonly (LeafLayout | undefined)[]): Value {
  const k = g.mesh?.model ?? 1;
  const split = (i: number) => k > 1 && !!layouts[i] && splitOver(layouts[i]!.dims, 'model');
  const sliced = grads.filter((_d, i) => split(i));
  if (sliced.length === 0) return g.apply('global_norm', grads);
  const whole = grads.filter((_d, i) => !split(i));
  const parts = g.apply('all_gather', [g.apply('global_norm', sliced)], { axis: 'model', ranks: k }); // [k]
  return g.apply('global_norm', whole.length ? [g.apply('global_norm', whole), parts] : [parts]);
}

/**
 * Adafactor of a factored weight split over `model`: its row and column means are over the GLOBAL
 * matrix, so each device sums its slice's statistics (adafactor_stats), the sums are all-reduced
 * over model, and the update uses them. A column shard (the in-projections) needs the row sums of
 * every column; a row shard (the out-projections) the column sums of every row and the sum of the
 * updated vr over every row (mean(vr) normalizes the estimate). The statistic held whole (vr of a
 * column shard, vc of a row shard) comes out the same on every device.
 */
function shardedAdafactor(
  g: Graph,
  a: {
    name: string;
    p: Value;
    grad: Value;
    momentum: Value;
    clip?: Value;
    layout: { rows: number; cols: number; factored: boolean };
    hyper: Record<string, unknown>;
    dims: LeafLayout;
    splitDim: number;
    state: (name: string, shape: readonly number[], dtype?: string, layout?: LeafLayout) => Value;
  },
): void {
  const { name, layout, dims } = a;
  const k = g.mesh!.model;
  const split = dims.dims[a.splitDim]!;
  const global = adafactorLayout(dims.shape, 1);
  if ((a.hyper.clipThreshold as number | undefined) ?? 0) {
    throw new Vit22bError('ERR_NOT_IMPLEMENTED', `Adafactor's block-RMS clipping of '${name}', a weight split over model, needs a global sum not wired yet`, {
      expected: 'clipThreshold 0 (the recipe) under a model axis',
      received: String(a.hyper.clipThreshold),
    });
  }
  const eps = a.hyper.eps as number | undefined;
  const clipIn = a.clip ? [a.clip] : [];
  const reduce = (v: Value) => g.apply('all_reduce', [v], { axis: 'model', ranks: k });
  const base = withoutUndefined({ ...layout, ...a.hyper });
  if (a.splitDim === dims.shape.length - 1) {
    const vr = a.state(`adafactor/vr/${name}`, [layout.rows]);
    const vc = a.state(`adafactor/vc/${name}`, [layout.cols], 'f32', { shape: [global.cols], dims: [split] });
    const stats = g.add('adafactor_stats', [a.grad, ...clipIn], withoutUndefined({ rows: layout.rows, cols: layout.cols, eps, hasClip: !!a.clip, totalCols: global.cols }));
    const rowSums = reduce(stats.outputs[0]!);
    g.add('adafactor_update', [a.p, a.grad, a.momentum, vr, vc, ...clipIn, rowSums], { ...base, stats: { rowSums: true, totalCols: global.cols } });
    return;
  }
  if (dims.shape.length !== 2 || a.splitDim !== 0) {
    throw new Vit22bError('ERR_NOT_IMPLEMENTED', `Adafactor of '${name}': a split of dimension ${a.splitDim} of a rank-${dims.shape.length} weight is neither a row nor a column shard`, {
      expected: 'a matrix split by rows or by columns',
      received: JSON.stringify(dims.dims),
    });
  }
  const vr = a.state(`adafactor/vr/${name}`, [layout.rows], 'f32', { shape: [global.rows], dims: [split] });
  const vc = a.state(`adafactor/vc/${name}`, [layout.cols]);
  const stats = g.add('adafactor_stats', [a.grad, ...clipIn, vr], withoutUndefined({ rows: layout.rows, cols: layout.cols, eps, hasClip: !!a.clip, vrSum: true, totalCols: layout.cols }));
  const colSums = reduce(stats.outputs[1]!);
  const vrSum = reduce(stats.outputs[2]!);
  g.add('adafactor_update', [a.p, a.grad, a.momentum, vr, vc, ...clipIn, colSums, vrSum], { ...base, stats: { colSums: true, vrSum: true, totalRows: global.rows } });
}

function withoutUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
