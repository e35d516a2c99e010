/**
 * The collective-matmul pass (overlap 'ring' | 'bidirectional'): rewrites the partitioned training
 * graph's collective/GEMM pairs into ring_matmul nodes (ops/ring-matmul.ts), whose lowering overlaps
 * each chunk's transfer with the GEMM of the chunk before it.
 *
 * It runs on the whole differentiated graph (after autodiff, fusion and rematerialization), so one
 * rewrite covers both directions: the forward's pairs and the transposed ones autodiff wrote for the
 * backward (all_gather's adjoint is a reduce_scatter and vice versa). Two patterns, as
 * sharding-layouts.ts builds them:
 *   scatter: P = matmul(a, b) [..., N] -> N cut in n column blocks -> stacked (concat on a new
 *            axis 0) -> reduce_scatter over the axis. The row-parallel out-projection in the
 *            forward. P must have no other reader (it is never materialized).
 *   gather:  all_gather(x) [n, ..., c] -> blocks re-laid side by side on the last dimension
 *            (slices, reshapes, then concat or a covering scatter_slices) = G [..., n*c] -> matmul(G, b) contracting over G's last
 *            dimension. In the forward: the expanding in-projection's input, the normalized
 *            feature slices of the split norm (partition.ts splitNorm: row_moments -> all_reduce ->
 *            norm_apply, so the gather follows the norm). In the backward: the residual's gradient
 *            gathered for the out-projection's input gradient (G is also read by the weight
 *            gradient, through the all_gather output that the ring fills).
 *   The scatter's stack is a concat in the forward and a scatter_slices covering axis 0 in order in
 *   the backward (the adjoint of a gather's slices): the in-projection's input gradient, which
 *   reduce-scatters onto the norm's feature slices (norm_apply_grad reads it).
 *   A block whose input is whole on every rank (the first: the embedding is not split) has no
 *   gather before its in-projection, and its input gradient is all-reduced, not reduce-scattered.
 * Pairs in any other form stay as they are (counted in the report as not rewritten).
 */
import type { Graph, Node, Value } from '../ir';
import type { RingLanes } from '../ops/ring-matmul';

export interface RingReport {
  /** matmul -> reduce_scatter pairs rewritten. */
  scatter: number;
  /** all_gather -> matmul pairs rewritten. */
  gather: number;
  /** Collectives over an axis of more than one rank left as they were. */
  untouched: number;
}

function only<T>(list: T[] | undefined): T | undefined {
  return list && list.length === 1 ? list[0] : undefined;
}

export function ringMatmuls(g: Graph, lanes: RingLanes): RingReport {
  const report: RingReport = { scatter: 0, gather: 0, untouched: 0 };
  const removed = new Set<Node>();
  for (const rs of [...g.nodes]) {
    if (rs.op !== 'reduce_scatter' || removed.has(rs)) continue;
    const m = matchScatter(g, rs);
    if (!m) continue;
    const ring = g.addAt(g.nodes.indexOf(rs), 'ring_matmul', [m.mm.inputs[0]!, m.mm.inputs[1]!], {
      kind: 'scatter',
      lanes,
      axis: rs.attrs.axis,
      ranks: rs.attrs.ranks,
      ...pick(m.mm.attrs, ['transA', 'transB', 'outDtype']),
    });
    ring.phase = rs.phase;
    ring.scope = rs.scope;
    g.replaceUses(rs.outputs[0]!, ring.outputs[0]!);
    for (const n of m.chain) removed.add(n);
    report.scatter++;
  }
  g.nodes = g.nodes.filter((n) => !removed.has(n));
  for (const ag of [...g.nodes]) {
    if (ag.op !== 'all_gather' || removed.has(ag)) continue;
    const m = matchGather(g, ag);
    if (!m) continue;
    // The ring takes the all_gather's place, or the weight's if that comes later (a weight gathered
    // over data just before its use); the relayout of the gathered blocks then follows it.
    g.nodes = g.nodes.filter((n) => !m.later.includes(n));
    const ring = g.addAt(g.nodes.indexOf(m.at), 'ring_matmul', [ag.inputs[0]!, m.mm.inputs[1]!], {
      kind: 'gather',
      lanes,
      axis: ag.attrs.axis,
      ranks: ag.attrs.ranks,
      ...pick(m.mm.attrs, ['transB', 'outDtype']),
    });
    ring.phase = m.mm.phase;
    ring.scope = m.mm.scope;
    g.nodes.splice(g.nodes.indexOf(ring) + 1, 0, ...m.later);
    g.replaceUses(ag.outputs[0]!, ring.outputs[1]!);
    g.replaceUses(m.mm.outputs[0]!, ring.outputs[0]!);
    removed.add(ag);
    removed.add(m.mm);
    g.nodes = g.nodes.filter((n) => !removed.has(n));
    report.gather++;
  }
  g.nodes = g.nodes.filter((n) => !removed.has(n));
  for (const n of g.nodes) {
    if ((n.op === 'all_gather' || n.op === 'reduce_scatter') && (n.attrs.ranks as number) > 1) report.untouched++;
  }
  return report;
}

function pick(attrs: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (attrs[k] !== undefined) out[k] = attrs[k];
  return out;
}

/** The matmul and the relayout nodes feeding reduce_scatter `rs`, or undefined if not that form. */
function matchScatter(g: Graph, rs: Node): { mm: Node; chain: Node[] } | undefined {
  const readers = g.consumers();
  const n = rs.attrs.ranks as number;
  if (n < 2) return undefined;
  const stack = rs.inputs[0]!;
  const cat = stack.node;
  if ((cat.op !== 'concat' && cat.op !== 'scatter_slices') || cat.attrs.axis !== 0 || cat.inputs.length !== n || only(readers.get(stack)) !== rs || isOutput(g, stack)) return undefined;
  // The backward writes the stack as scatter_slices (the adjoint of the forward gather's slices of
  // its [n, ...] blocks): a concatenation when piece j sits at j. Only over model (the input
  // gradient of a matmul whose input was gathered: the in-projection's, under the split norm).
  // ZeRO-3's weight-gradient reduce-scatters over data take this form too; rewriting those is not
  // tested yet, so they stay as they are.
  if (cat.op === 'scatter_slices' && (rs.attrs.axis !== 'model' || cat.attrs.length !== n || (cat.attrs.begins as number[]).some((b, j) => b !== j))) return undefined;
  let p: Value | undefined;
  const chain: Node[] = [rs, cat];
  for (let j = 0; j < n; ++j) {
    const piece = cat.inputs[j]!;
    const reshape = piece.node;
    if (reshape.op !== 'reshape' || only(readers.get(piece)) !== cat || isOutput(g, piece)) return undefined;
    const cut = reshape.inputs[0]!;
    const slice = cut.node;
    if (slice.op !== 'slice' || only(readers.get(cut)) !== reshape || isOutput(g, cut)) return undefined;
    const src = slice.inputs[0]!;
    if (p !== undefined && src !== p) return undefined;
    p = src;
    const last = src.shape.length - 1;
    const cols = src.shape[last]! / n;
    if (slice.attrs.axis !== last || slice.attrs.begin !== j * cols || slice.attrs.end !== (j + 1) * cols) return undefined;
    chain.push(reshape, slice);
  }
  const mm = p!.node;
  if (mm.op !== 'matmul' || isOutput(g, p!) || p!.persistentName !== undefined || p!.checkpoint) return undefined;
  // P's only readers are the n slices.
  if ((readers.get(p!) ?? []).some((r) => !chain.includes(r))) return undefined;
  chain.push(mm);
  return { mm, chain };
}

/** The matmul contracting over the re-laid gather of all_gather `ag`, or undefined. */
function matchGather(g: Graph, ag: Node): { mm: Node; at: Node; later: Node[] } | undefined {
  const readers = g.consumers();
  const n = ag.attrs.ranks as number;
  if (n < 2) return undefined;
  const x = ag.inputs[0]!;
  const last = x.shape.length - 1;
  const gathered = ag.outputs[0]!;
  if (isOutput(g, gathered) || gathered.persistentName !== undefined) return undefined;
  // G = concat on the last dimension of the n blocks in rank order (a single segment).
  let cat: Node | undefined;
  const blocks = new Map<number, Value>();
  for (const r of readers.get(gathered) ?? []) {
    if (r.op !== 'slice' || r.attrs.axis !== 0 || (r.attrs.end as number) - (r.attrs.begin as number) !== 1) return undefined;
    for (const rr of readers.get(r.outputs[0]!) ?? []) {
      if (rr.op !== 'reshape') return undefined;
      blocks.set(r.attrs.begin as number, rr.outputs[0]!);
      for (const c of readers.get(rr.outputs[0]!) ?? []) {
        if (c.op !== 'concat' && c.op !== 'scatter_slices') return undefined;
        if (cat && cat !== c) return undefined;
        cat = c;
      }
    }
  }
  if (!cat || cat.attrs.axis !== last || cat.inputs.length !== n || cat.inputs.some((v, j) => v !== blocks.get(j))) return undefined;
  // The backward writes the same relayout as scatter_slices (the adjoint of the forward's slices):
  // a concatenation when its pieces cover the axis in order.
  const c = x.shape[last]!;
  if (cat.op === 'scatter_slices' && (cat.attrs.length !== n * c || (cat.attrs.begins as number[]).some((b, j) => b !== j * c))) return undefined;
  const big = cat.outputs[0]!;
  const mm = (readers.get(big) ?? []).find((r) => r.op === 'matmul' && r.inputs[0] === big && r.inputs[1] !== big && !r.attrs.transA);
  if (!mm) return undefined;
  // The ring node goes where the all_gather is, or right after the weight's producer when that is
  // later (before the matmul). Then the relayout nodes between move after it; nothing else may
  // read them before.
  const b = mm.inputs[1]!;
  const agAt = g.nodes.indexOf(ag);
  const bAt = g.nodes.indexOf(b.node);
  if (bAt < agAt) return { mm, at: ag, later: [] };
  if (bAt >= g.nodes.indexOf(mm)) return undefined;
  const relayout = new Set<Node>();
  const walk = (v: Value) => {
    for (const r of readers.get(v) ?? []) {
      if (r.op !== 'slice' && r.op !== 'reshape' && r.op !== 'concat' && r.op !== 'scatter_slices') continue;
      if (relayout.has(r)) continue;
      relayout.add(r);
      r.outputs.forEach(walk);
    }
  };
  walk(gathered);
  const later = g.nodes.slice(agAt + 1, bAt + 1).filter((n) => relayout.has(n));
  for (const n of later) {
    for (const o of n.outputs) for (const r of readers.get(o) ?? []) if (!later.includes(r) && g.nodes.indexOf(r) <= bAt) return undefined;
  }
  return { mm, at: g.nodes[bAt + 1]!, later };
}

function isOutput(g: Graph, v: Value): boolean {
  for (const o of g.outputs.values()) if (o === v) return true;
  return false;
}
