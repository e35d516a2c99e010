/**
 * Reverse-mode differentiation of a graph: the backward nodes are appended to the same graph (phase
 * 'backward'), walking the forward nodes in reverse and calling each op's gradient rule. Gradients
 * reaching a value along several paths are summed with `add` (which the fusion pass may fold into
 * the GEMM that produced one of them).
 */
import { Vit22bError } from '../runtime/errors';
import type { Graph, Node, Value } from './ir';
import type { GradContext } from './op-def';
import { getOp } from './op-table';
import { shapeText } from './types';

/** The value of a constant scalar node, or undefined. */
export function constantValue(v: Value): number | undefined {
  if (v.node.op !== 'const' || v.shape.length !== 0) return undefined;
  return v.node.attrs.value as number;
}

/**
 * Appends d(loss)/d(w) for each of `wrt` and returns them in that order. A parameter the loss does
 * not depend on gets a zero gradient (a constant), so optimizers see every parameter.
 */
export function differentiate(g: Graph, loss: Value, wrt: readonly Value[]): Value[] {
  if (loss.shape.length !== 0) {
    throw new Vit22bError('ERR_SHAPE_MISMATCH', 'the differentiated output must be a scalar', {
      expected: '[]',
      received: shapeText(loss.shape),
    });
  }
  const forward = [...g.nodes];
  // Values that depend on some `wrt` (forward sweep) ...
  const dependsOnWrt = new Set<Value>(wrt);
  for (const n of forward) {
    const def = getOp(n.op);
    const carries = n.inputs.some((v, i) => dependsOnWrt.has(v) && !def.nonDifferentiable?.includes(i));
    if (carries) for (const o of n.outputs) dependsOnWrt.add(o);
  }
  // ... and that the loss depends on (backward sweep): only those need gradients.
  const reachesLoss = new Set<Value>([loss]);
  for (let i = forward.length - 1; i >= 0; --i) {
    const n = forward[i]!;
    if (n.outputs.some((o) => reachesLoss.has(o))) for (const v of n.inputs) reachesLoss.add(v);
  }
  const needsGrad = (v: Value) => dependsOnWrt.has(v) && reachesLoss.has(v);

  const savedPhase = g.phase;
  g.phase = 'backward';
  const grads = new Map<Value, Value>();
  const accumulate = (v: Value, d: Value) => {
    const dd = d.dtype === v.dtype ? d : g.apply('cast', [d], { dtype: v.dtype });
    const prev = grads.get(v);
    grads.set(v, prev ? g.apply('add', [prev, dd]) : dd);
  };
  grads.set(loss, g.apply('const', [], { name: '', shape: [], dtype: loss.dtype, value: 1 }));

  for (let i = forward.length - 1; i >= 0; --i) {
    const node = forward[i]!;
    const dy = node.outputs.map((o) => grads.get(o) ?? null);
    if (dy.every((d) => d === null)) continue;
    const def = getOp(node.op);
    const needs = node.inputs.map((v, k) => needsGrad(v) && !def.nonDifferentiable?.includes(k));
    if (!needs.some(Boolean)) continue;
    if (!def.grad) {
      throw new Vit22bError('ERR_NOT_IMPLEMENTED', `op '${node.op}' has no gradient rule`, {
        expected: 'a differentiable op on the path from the parameters to the loss',
        received: node.toString(),
      });
    }
    const ctx: GradContext = { g, node, dy, needs, constant: constantValue };
    const dx = def.grad(ctx);
    dx.forEach((d, k) => {
      if (d && needs[k]) accumulate(node.inputs[k]!, d);
    });
  }

  const result = wrt.map((w) => {
    let d = grads.get(w);
    if (!d) d = g.apply('const', [], { name: '', shape: w.shape, dtype: w.dtype, value: 0 });
    return d;
  });
  g.phase = savedPhase;
  return result;
}

/** Whether a node is one of the leaves. */
export function isLeaf(n: Node): boolean {
  return getOp(n.op).leaf !== undefined;
}
