/**
 * Dead-code elimination: removes nodes nothing reads. Kept: effects (optimizer updates), program
 * outputs, values placed in persistent slots (gradients, readable by name), and the input, param
 * and state leaves (a run feeds every input; persistent state exists whether read or not).
 */
import type { Graph, Node, Value } from '../ir';
import { getOp } from '../op-table';

export function eliminateDeadCode(g: Graph): number {
  const live = new Set<Value>();
  for (const v of g.outputs.values()) live.add(v);
  const keep: Node[] = [];
  for (let i = g.nodes.length - 1; i >= 0; --i) {
    const n = g.nodes[i]!;
    const def = getOp(n.op);
    const needed =
      def.effect ||
      (def.leaf !== undefined && def.leaf !== 'const') ||
      n.outputs.some((o) => live.has(o) || o.persistentName !== undefined);
    if (!needed) continue;
    keep.push(n);
    for (const v of n.inputs) live.add(v);
  }
  const removed = g.nodes.length - keep.length;
  g.nodes = keep.reverse();
  return removed;
}
