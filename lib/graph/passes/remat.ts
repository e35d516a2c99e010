/**
 * Rematerialization: trade compute for memory by recomputing forward activations in the backward
 * pass instead of keeping them alive from the forward.
 *   'none'       keep everything the backward reads
 *   'selective'  recompute the outputs of cheap ops (elementwise, norms, reshapes; OpDef.cheap) from
 *                the saved outputs of expensive ones (matmuls, attention)
 *   'block'      keep only leaves and values marked with GraphBuilder.checkpoint (block inputs);
 *                recompute everything else, block by block, right before its backward needs it
 * Recomputed nodes are clones placed just before their first backward reader; they are backward
 * nodes from then on. Results are bitwise those of 'none': the same kernels on the same inputs.
 */
import { Vit22bError } from '../../runtime/errors';
import type { Graph, Node, Value } from '../ir';
import { getOp } from '../op-table';

export type RematPolicy = 'none' | 'selective' | 'block';

export function rematerialize(g: Graph, policy: RematPolicy): number {
  if (policy !== 'none' && policy !== 'selective' && policy !== 'block') {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', 'unknown rematerialization policy', {
      expected: 'none | selective | block',
      received: String(policy),
    });
  }
  if (policy === 'none') return 0;
  const keeps = (v: Value): boolean => {
    const def = getOp(v.node.op);
    if (v.node.phase !== 'forward' || def.leaf !== undefined || def.effect) return true;
    if (v.checkpoint || v.persistentName !== undefined || [...g.outputs.values()].includes(v)) return true;
    return policy === 'selective' ? !def.cheap : false;
  };

  const clones = new Map<Node, Node>(); // forward node -> its recomputed clone
  let count = 0;
  const order = [...g.nodes];
  const rebuilt: Node[] = [];
  // The clone of `n`'s output `v`, creating (recursively) the clones it needs into `rebuilt`.
  const recompute = (v: Value): Value => {
    if (keeps(v)) return v;
    let c = clones.get(v.node);
    if (!c) {
      const inputs = v.node.inputs.map(recompute);
      c = g.clone(v.node, inputs);
      g.nodes.pop(); // g.clone appended it; the schedule is rebuilt below
      c.phase = 'backward';
      c.scope = v.node.scope;
      clones.set(v.node, c);
      rebuilt.push(c);
      count++;
    }
    return c.outputs[v.index]!;
  };
  for (const n of order) {
    if (n.phase === 'backward') n.inputs = n.inputs.map(recompute);
    rebuilt.push(n);
  }
  g.nodes = rebuilt;
  return count;
}
