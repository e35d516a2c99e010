/**
 * Turns a forward graph into one whole training step: gradients of a named scalar output with
 * respect to every parameter (each written to a persistent `grad/<name>` buffer, readable between
 * steps), the global gradient norm (output `gradNorm`), optional global-norm clipping computed on
 * the device, and the optimizer update as ops on persistent state. One program, one plan, one call.
 */
import { Vit22bError } from '../runtime/errors';
import { differentiate } from './autodiff';
import type { Graph, Value } from './ir';
import { getOp } from './op-table';

export interface AdamwSpec {
  kind: 'adamw';
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

export interface TrainingStepOptions {
  /** The graph output to minimize (a scalar). */
  loss: string;
  optimizer: AdamwSpec;
  /** Clip the global gradient norm to this value (off when absent). */
  clipNorm?: number;
}

/** Appends the backward pass and the update; returns the gradient value of each parameter by name. */
export function appendTrainingStep(g: Graph, options: TrainingStepOptions): Map<string, Value> {
  const loss = g.outputs.get(options.loss);
  if (!loss) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `the graph has no output '${options.loss}' to minimize`, {
      expected: `one of ${[...g.outputs.keys()].join(', ') || '(no outputs)'}`,
      received: options.loss,
    });
  }
  if (options.optimizer?.kind !== 'adamw') {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', 'unknown optimizer', { expected: 'adamw', received: String(options.optimizer?.kind) });
  }
  const paramNodes = g.leaves('param');
  const params = paramNodes.map((n) => n.outputs[0]!);
  const grads = differentiate(g, loss, params);

  g.phase = 'backward';
  const taken = new Set<Value>();
  const named = new Map<string, Value>();
  grads.forEach((d, i) => {
    const name = paramNodes[i]!.attrs.name as string;
    const def = getOp(d.node.op);
    // Each gradient gets its own buffer: a view, a leaf or a value shared with another gradient
    // cannot be placed in a persistent slot of its own, so those are copied.
    let grad = d;
    if (def.view || def.leaf || taken.has(d) || d.persistentName !== undefined) grad = g.apply('copy', [d]);
    taken.add(grad);
    grad.persistentName = `grad/${name}`;
    named.set(name, grad);
  });

  g.phase = 'update';
  const norm = g.apply('global_norm', [...named.values()]);
  g.setOutput('gradNorm', norm);
  const clip = options.clipNorm === undefined ? undefined : g.apply('clip_scale', [norm], { maxNorm: options.clipNorm });
  const { kind: _kind, ...hyper } = options.optimizer;
  paramNodes.forEach((pn, i) => {
    const name = pn.attrs.name as string;
    const p = params[i]!;
    const moment = (which: string) => g.apply('state', [], { name: `adamw/${which}/${name}`, shape: p.shape, dtype: 'f32', init: { dist: 'constant', value: 0 } });
    const inputs = [p, named.get(name)!, moment('m'), moment('v')];
    g.add('adamw_update', clip ? [...inputs, clip] : inputs, { ...hyper, hasClip: !!clip });
  });
  g.phase = 'forward';
  return named;
}
