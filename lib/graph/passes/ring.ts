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
 *            dimension. In the backward: the residual's gradient gathered for the out-projection's
 *            input gradient (G is also read by the weight gradient, through the all_gather output
 *            that the ring fills). The forward's expanding projection does not take this form today:
 *            its input is gathered before the norm (partition.ts layerNorm), so the gather feeds the
 *            norm, not a matmul; rewriting it needs the partial-statistics norm first.
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
    const ring = g.addAt(g.nodes.indexOf(ag), 'ring_matmul', [ag.inputs[0]!, m.mm.inputs[1]!], {
      kind: 'gather',
      lanes,
      axis: ag.attrs.axis,
      ranks: ag.attrs.ranks,
      ...pick(m.mm.attrs, ['transB', 'outDtype']),
    });
    ring.phase = m.mm.phase;
    ring.scope = m.mm.scope;
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
  if (cat.op !== 'concat' || cat.attrs.axis !== 0 || cat.inputs.length !== n || only(readers.get(stack)) !== rs || isOutput(g, stack)) return undefined;
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
function matchGather(g: Graph, ag: Node): { mm: Node } | undefined {
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
  // The ring node takes the all_gather's place: the weight must exist by then.
  const b = mm.inputs[1]!;
  const at = g.nodes.indexOf(ag);
  if (g.nodes.indexOf(b.node) > at) return undefined;
  return { mm };
}

function isOutput(g: Graph, v: Value): boolean {
  for (const o of g.outputs.values()) if (o === v) return true;
  return false;
}
