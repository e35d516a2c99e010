/**
 * Plan streams for overlapping communication with compute. With overlap 'streams' every collective
 * runs on stream 1 (communication) and everything else on stream 0 (compute); a collective starts
 * once the compute it reads is done and the compute that reads its result waits for it, so compute
 * that does not depend on a collective (the rest of the backward while gradients are all-reduced)
 * runs meanwhile. Events carry the order (lower.ts); the memory planner keeps a collective's buffers
 * out of reuse over the whole span it may run in (`concurrentSpans`: happens-before, not node order).
 */
import type { Graph, Node } from '../ir';
import { getOp } from '../op-table';
import { COLLECTIVE_OPS } from '../ops/collective-attrs';

/**
 * 'ring' and 'bidirectional' are 'streams' plus the collective matmul (passes/ring.ts): its ring
 * nodes sit on the compute stream and send their chunks on stream 1, after the collectives before
 * them there.
 */
export type OverlapMode = 'none' | 'streams' | 'ring' | 'bidirectional';

export const OVERLAP_MODES: readonly OverlapMode[] = ['none', 'streams', 'ring', 'bidirectional'];

/** The stream each node's instructions go to. */
export function streamAssignment(overlap: OverlapMode): (n: Node) => number {
  return overlap === 'none' ? () => 0 : (n) => (COLLECTIVE_OPS.has(n.op) ? 1 : 0);
}

/**
 * For each node off stream 0, the span of the schedule it may run concurrently with:
 *   start: the position after which it may begin. A stream runs its nodes in order, each as soon as
 *          the compute it reads is done, so this is the latest of the stream's previous start and
 *          the positions of its inputs' compute producers (leaves are ready from the beginning).
 *   join:  the position of the first stream-0 node ordered after it (one that reads its outputs, or
 *          the outputs of another off-stream node that does), or the end of the plan.
 * Memory it reads or writes must stay reserved over the whole span.
 */
export function concurrentSpans(g: Graph, streamOf: (n: Node) => number): Map<Node, { start: number; join: number }> {
  const index = new Map(g.nodes.map((n, i) => [n, i] as const));
  const readers = new Map<Node, Node[]>();
  for (const n of g.nodes) {
    for (const v of n.inputs) {
      const list = readers.get(v.node) ?? [];
      if (!list.includes(n)) list.push(n);
      readers.set(v.node, list);
    }
  }
  const spans = new Map<Node, { start: number; join: number }>();
  const front = new Map<number, number>();
  let lastCompute = 0;
  for (const n of g.nodes) {
    const s = streamOf(n);
    if (s === 0) {
      if (getOp(n.op).leaf === undefined) lastCompute = index.get(n)!;
      continue;
    }
    let start = front.get(s) ?? 0;
    // A fenced node starts after the compute scheduled before it (lower.ts waits for it).
    if (n.fence) start = Math.max(start, lastCompute);
    for (const v of n.inputs) {
      // A view (reshape, pvary) emits nothing: the node waits for whatever made the viewed memory.
      // Taking the view's own position would start the span too late (a reduce_scatter of a reshaped
      // all_reduce runs right after the all_reduce, on this stream), letting compute in between reuse
      // bytes it is still writing.
      let p = v.node;
      while (getOp(p.op).view && p.inputs.length > 0) p = p.inputs[0]!.node;
      if (streamOf(p) === 0 && getOp(p.op).leaf === undefined) start = Math.max(start, index.get(p)!);
    }
    front.set(s, start);
    spans.set(n, { start, join: g.nodes.length });
  }
  // Later nodes first, so an off-stream reader's join is known before its producer's.
  for (let i = g.nodes.length - 1; i >= 0; --i) {
    const n = g.nodes[i]!;
    const span = spans.get(n);
    if (!span) continue;
    for (const r of readers.get(n) ?? []) span.join = Math.min(span.join, streamOf(r) === 0 ? index.get(r)! : (spans.get(r)?.join ?? g.nodes.length));
  }
  return spans;
}
