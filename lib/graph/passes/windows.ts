/**
 * Windows: slices and concatenations without copies.
 *  - A slice whose readers can all read strided rows becomes a view of its source: a window of rows
 *    of (end - begin) * inner elements, length * inner apart. q, k, v and the MLP input cut out of
 *    the fused projection output z [B*T, 3D + F] are read in place by QK-norm, attention and GELU.
 *  - A concatenation (concat, or a scatter_slices whose pieces cover the axis) gets its output
 *    allocated when its first piece is made, and each piece whose producer can write strided rows
 *    is written straight into its place: attention's and GELU's outputs side by side for the fused
 *    out-projection; dq, dk, dv and dm into dz.
 * What may be a window is each op's own statement (OpDef.windowInput / windowOutput); this pass only
 * decides. The memory planner places the windows, the lowering hands kernels their strides.
 * Runs after fusion and rematerialization, right before the memory plan. Windows can move a peak:
 * a concatenation's buffer is allocated at its first piece, and a window keeps its whole base
 * alive; compile.ts keeps them only where the planned arena does not grow.
 */
import type { Graph, Node, Value } from '../ir';
import { getOp } from '../op-table';
import { axisParts } from '../ops/strided';
import { numel } from '../types';

/** `value` lives inside `base`: rows of rowLen elements, rowStride apart, from element `offset`. */
export interface WindowPlacement {
  base: Value;
  offset: number;
  rowLen: number;
  rowStride: number;
}

export interface WindowPlan {
  /** Slice outputs (base: the sliced value) and placed pieces (base: the concatenation's output). */
  windows: Map<Value, WindowPlacement>;
  /** Concat / scatter_slices inputs already in place: their lowering copies only the others. */
  placed: Set<Value>;
}

export interface WindowReport {
  /** Slices turned into views. */
  slices: number;
  /** Concatenation pieces written in place. */
  pieces: number;
}

/** Each (node, input index) reading `v`, through reshape views; undefined if a view on the way is pinned. */
function readsOf(v: Value, readers: Map<Value, Node[]>, pinned: (v: Value) => boolean, skip?: Node): { node: Node; input: number }[] | undefined {
  const out: { node: Node; input: number }[] = [];
  for (const n of new Set(readers.get(v) ?? [])) {
    if (n === skip) continue;
    if (getOp(n.op).view) {
      const w = n.outputs[0]!;
      if (pinned(w)) return undefined;
      const further = readsOf(w, readers, pinned);
      if (!further) return undefined;
      out.push(...further);
      continue;
    }
    n.inputs.forEach((u, input) => {
      if (u === v) out.push({ node: n, input });
    });
  }
  return out;
}

function acceptsWindow(reads: { node: Node; input: number }[], rowLen: number): boolean {
  return reads.every(({ node, input }) => getOp(node.op).windowInput?.(node, input, rowLen) === true);
}

/** The value a chain of views starts from. */
function viewRoot(v: Value): Value {
  let w = v;
  while (getOp(w.node.op).view) w = w.node.inputs[0]!;
  return w;
}

/** The pieces of a concatenation along one axis, with their start along it. */
function concatPieces(n: Node): { axis: number; length: number; pieces: { value: Value; begin: number }[] } | undefined {
  if (n.op === 'concat') {
    const axis = n.attrs.axis as number;
    let begin = 0;
    const pieces = n.inputs.map((value) => {
      const p = { value, begin };
      begin += value.shape[axis]!;
      return p;
    });
    return { axis, length: begin, pieces };
  }
  if (n.op === 'scatter_slices') {
    const axis = n.attrs.axis as number;
    const length = n.attrs.length as number;
    const begins = n.attrs.begins as number[];
    const pieces = n.inputs.map((value, i) => ({ value, begin: begins[i]! }));
    // Only a covering scatter is a concatenation; the others zero-fill first, which must come
    // before any piece is written.
    if (pieces.reduce((s, p) => s + p.value.shape[axis]!, 0) !== length) return undefined;
    return { axis, length, pieces };
  }
  return undefined;
}

/** `pieces: false` leaves concatenations alone (slices only). */
export function planWindows(g: Graph, options: { pieces?: boolean } = {}): { plan: WindowPlan; report: WindowReport } {
  const readers = g.consumers();
  const outputs = new Set(g.outputs.values());
  const isLeaf = (v: Value) => getOp(v.node.op).leaf !== undefined;
  // Values whose memory must stay their own: program outputs (downloaded densely), persistent
  // values, block checkpoints, and leaves (uploaded or persistent).
  const pinned = (v: Value) => outputs.has(v) || v.persistentName !== undefined || v.checkpoint || isLeaf(v);
  const plan: WindowPlan = { windows: new Map(), placed: new Set() };
  const report: WindowReport = { slices: 0, pieces: 0 };

  // Concatenations first: a slice of a piece placed later would address the wrong memory.
  for (const n of options.pieces === false ? [] : g.nodes) {
    const c = concatPieces(n);
    if (!c) continue;
    const y = n.outputs[0]!;
    if (y.persistentName !== undefined || plan.windows.has(viewRoot(y))) continue;
    const { inner } = axisParts(y.shape, c.axis);
    for (const { value: u, begin } of c.pieces) {
      if (n.inputs.filter((w) => w === u).length !== 1 || pinned(u)) continue;
      const rowLen = u.shape[c.axis]! * inner;
      const rowStride = c.length * inner;
      // Walk back through reshapes that only this piece reads to the value a kernel writes.
      let p = u;
      let ok = true;
      while (getOp(p.node.op).view) {
        const src = p.node.inputs[0]!;
        if (pinned(src) || (readers.get(src) ?? []).length !== 1) ok = false;
        p = src;
      }
      if (!ok || plan.windows.has(p)) continue;
      const producer = getOp(p.node.op);
      if (!producer.windowOutput?.(p.node, p.index, rowLen)) continue;
      const others = readsOf(u, readers, pinned, n);
      if (!others || !acceptsWindow(others, rowLen)) continue;
      plan.windows.set(p, { base: y, offset: begin * inner, rowLen, rowStride });
      plan.placed.add(u);
      report.pieces++;
    }
  }

  // Slices, grouped by the value they cut. A window keeps its whole base alive as long as it is
  // read, so a base's slices become windows only where that costs no memory: all of them, when
  // they cover the base; otherwise those read no later than the base is read anyway.
  const index = new Map(g.nodes.map((n, i) => [n, i]));
  const candidates = new Map<Value, { v: Value; w: WindowPlacement; last: number }[]>();
  const sliced = new Map<Value, number>();
  for (const n of g.nodes) {
    if (n.op !== 'slice') continue;
    const x = n.inputs[0]!;
    const v = n.outputs[0]!;
    sliced.set(x, (sliced.get(x) ?? 0) + 1);
    if (pinned(v) || x.persistentName !== undefined || (isLeaf(x) && getOp(x.node.op).leaf !== 'input')) continue;
    if (plan.windows.has(viewRoot(x))) continue; // a window of a window: not one stride
    const axis = n.attrs.axis as number;
    const begin = n.attrs.begin as number;
    const end = n.attrs.end as number;
    const { length, inner } = axisParts(x.shape, axis);
    const rowLen = (end - begin) * inner;
    const rows = rowLen === 0 ? 0 : numel(v.shape) / rowLen;
    const reads = readsOf(v, readers, pinned);
    // One row (a slice of the leading axis) is plain memory at an offset: any reader takes it.
    if (!reads || (rows > 1 && !acceptsWindow(reads, rowLen))) continue;
    const last = Math.max(-1, ...reads.map((r) => index.get(r.node)!));
    const list = candidates.get(x) ?? [];
    list.push({ v, w: { base: x, offset: begin * inner, rowLen, rowStride: length * inner }, last });
    candidates.set(x, list);
  }
  for (const [x, list] of candidates) {
    const covers = list.length === sliced.get(x) && list.reduce((s, c) => s + numel(c.v.shape), 0) >= numel(x.shape);
    const others = (readsOf(x, readers, pinned) ?? []).filter((r) => r.node.op !== 'slice' || !list.some((c) => c.v === r.node.outputs[0]));
    const baseLast = outputs.has(x) ? Infinity : Math.max(-1, ...others.map((r) => index.get(r.node)!));
    for (const c of list) {
      if (!covers && c.last > baseLast) continue;
      plan.windows.set(c.v, c.w);
      report.slices++;
    }
  }
  return { plan, report };
}
