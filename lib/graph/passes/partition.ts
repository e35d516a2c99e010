/**
 * The partitioning pass: a global forward graph becomes ONE per-device (SPMD) graph for a
 * `data` x `model` mesh, with local shapes and collective ops, before differentiation. Autodiff then
 * writes the backward collectives from the collectives' gradient rules, so no backward or optimizer
 * op needs a sharding rule of its own (SHARDING.md, decision 1).
 *
 * Every local value carries its layout (per dimension: whole, or split over an axis, maybe in
 * segments) and the set of axes it *varies* over: values that differ between the ranks of an axis
 * (another batch shard, other weight columns) versus values every rank of it holds identically (a
 * replicated weight, an all-reduced statistic). Where the two meet in one op, the invariant input
 * passes through pvary, whose gradient is the all-reduce that sums the ranks' contributions: that is
 * where the gradient all-reduce of replicated weights over `data` comes from.
 *
 * The ViT-22B layout falls out of the rules and the parameter shardings (lib/model/params.ts):
 *  - inputs are split over `data` on the batch; weights are replicated over `data`;
 *  - the fused in-projection [D, 3D + F] is split over `model` in segments (q, k, v, MLP), so the
 *    matmul rule all-gathers the normalized input and multiplies by the local column block; attention
 *    runs on the local heads (H / k);
 *  - the out-projection [D + F, D] is split over `model` in row segments; its partial products are
 *    reduce-scattered onto the feature-split residual stream [B/t, T, D/k];
 *  - a norm of a feature-split stream all-reduces partial row moments over model and normalizes its
 *    own features (row_moments -> all_reduce -> norm_apply; see splitNorm below), so the
 *    in-projection gathers the normalized slices;
 *  - scalar outputs (the loss) are averaged over the axes they vary on, so every device takes the
 *    same decisions (the non-finite guard, clipping).
 */
import { Vit22bError } from '../../runtime/errors';
import { Graph, type Node, type Value } from '../ir';
import type { Attrs } from '../op-def';
import { gatherDim, reduceScatterDim } from '../sharding-layouts';
import { localShape, MESH_AXES, normalizeSharding, segmentsOf, type DimLayout, type DimSplit, type MeshAxis, type MeshShape } from '../sharding';
import type { Shape } from '../types';

/** A leaf's global shape and how it is split (param/state attrs `layout`, inputs in the result). */
export interface LeafLayout {
  shape: readonly number[];
  dims: readonly DimLayout[];
}

/**
 * How the host assembles an output from the devices: 'replicated' (every device has it: rank 0's),
 * 'batch' (split on dimension 0 over data: the data ranks' pieces concatenated), 'sum' (counts of
 * each data shard: summed), 'mean' (a per-shard mean: averaged), 'attention-stats' ([max logit,
 * mean entropy] per data shard: the max and the mean).
 */
export type OutputAssembly = 'replicated' | 'batch' | 'sum' | 'mean' | 'attention-stats';

/**
 * Options of the pass. `zero: 3` shards every large parameter over `data` too (ZeRO-3): each data
 * rank stores 1/t of it (and of its gradient and optimizer state), all-gathers it where it is used,
 * and the all-gather's gradient, a reduce-scatter over data, leaves each rank the summed gradient of
 * its own slice. With `remat: 'block'` the gathered weights are recomputed (gathered again) for the
 * backward instead of kept alive across the step, as ZeRO-3 does.
 */
export interface PartitionOptions {
  zero?: 0 | 3;
}

/** Parameters of fewer elements per device stay whole on every data rank under ZeRO-3: gathering them would cost more in latency than the memory it saves. */
export const ZERO3_MIN_ELEMENTS = 1024;

export interface PartitionResult {
  graph: Graph;
  inputs: Map<string, LeafLayout>;
  outputs: Map<string, OutputAssembly>;
}

interface Local {
  v: Value;
  /** Global shape. */
  shape: Shape;
  dims: DimLayout[];
  varying: Set<MeshAxis>;
  /** An auxiliary output (norm statistics) whose layout is not tracked: forward ops may not read it. */
  opaque?: boolean;
}

/** A split in canonical form: one segment is written without `segments`. */
function canonical(split: DimSplit): DimSplit {
  return split.segments && split.segments.length === 1 ? { axis: split.axis } : split;
}

function sameSplit(a: DimLayout, b: DimLayout, size: number): boolean {
  if (!a || !b) return a === b;
  return a.axis === b.axis && segmentsOf(a, size).join() === segmentsOf(b, size).join();
}

function notSupported(op: string, why: string, received: string): Vit22bError {
  return new Vit22bError('ERR_NOT_IMPLEMENTED', `partitioning ${op}: ${why}`, { expected: 'a layout this op supports under a mesh', received });
}

class Partitioner {
  readonly out = new Graph();
  private readonly map = new Map<Value, Local>();
  private readonly pvaries = new Map<Value, Map<MeshAxis, Value>>();
  /** Casts of ZeRO-3 weights done before their gather (global cast output -> its local value). */
  private readonly castFirst = new Map<Value, Local>();
  private readonly readers: Map<Value, Node[]>;
  readonly inputs = new Map<string, LeafLayout>();
  readonly outputs = new Map<string, OutputAssembly>();

  constructor(
    private readonly src: Graph,
    readonly mesh: MeshShape,
    private readonly options: PartitionOptions = {},
  ) {
    this.out.precision = src.precision;
    this.out.mesh = mesh;
    this.readers = src.consumers();
  }

  private active(axis: MeshAxis): boolean {
    return this.mesh[axis] > 1;
  }

  private apply(op: string, inputs: Value[], attrs: Attrs = {}): Node {
    return this.out.add(op, inputs, attrs);
  }

  /** `l` marked as varying over `axes` too (pvary where it is invariant over one). */
  private vary(l: Local, axes: Iterable<MeshAxis>): Local {
    let v = l.v;
    const varying = new Set(l.varying);
    for (const axis of axes) {
      if (varying.has(axis) || !this.active(axis)) continue;
      // One pvary per value and axis: its gradient then all-reduces the sum of every use's once.
      let cache = this.pvaries.get(v);
      if (!cache) this.pvaries.set(v, (cache = new Map()));
      let p = cache.get(axis);
      if (!p) cache.set(axis, (p = this.out.apply('pvary', [v], { axis, ranks: this.mesh[axis] })));
      v = p;
      varying.add(axis);
    }
    return { ...l, v, varying };
  }

  /** All of `ls` varying over the union of their axes. */
  private unifyVarying(ls: Local[]): { ls: Local[]; varying: Set<MeshAxis> } {
    const varying = new Set<MeshAxis>();
    for (const l of ls) for (const a of l.varying) varying.add(a);
    return { ls: ls.map((l) => this.vary(l, varying)), varying };
  }

  /** `l` with dimension `dim` whole (all-gathered when split). */
  private gather(l: Local, dim: number): Local {
    const split = l.dims[dim];
    if (!split) return l;
    const ranks = this.mesh[split.axis];
    const v = gatherDim(this.out, l.v, dim, split.axis, ranks, segmentsOf(split, l.shape[dim]!));
    const dims = [...l.dims];
    dims[dim] = null;
    return { ...l, v, dims };
  }

  /** `l` with dimension `dim` split like `split` (this rank's block of a value every rank holds). */
  private split(l: Local, dim: number, split: DimSplit, op: string): Local {
    if (l.dims[dim]) l = this.gather(l, dim);
    if (l.varying.has(split.axis)) {
      // The block of a value that already differs per rank (a gathered one) has a different
      // gradient (no sum over the axis); no rule of today's models asks for it.
      throw notSupported(op, `taking this rank's block of a value that varies over ${split.axis}`, `dimension ${dim}`);
    }
    const ranks = this.mesh[split.axis];
    const v = this.out.apply('axis_slice', [l.v], { axis: split.axis, ranks, dim, ...(split.segments ? { segments: split.segments } : {}) });
    const dims = [...l.dims];
    dims[dim] = canonical(split);
    return { ...l, v, dims, varying: new Set([...l.varying, split.axis]) };
  }

  /** Makes dimension da of a and db of b split alike: the whole side takes its block, else both gather. */
  private unifyDim(a: Local, da: number, b: Local, db: number, op: string): [Local, Local] {
    const sa = a.dims[da] ?? null;
    const sb = b.dims[db] ?? null;
    if (sameSplit(sa, sb, a.shape[da]!)) return [a, b];
    if (sa && !sb && !b.varying.has(sa.axis)) return [a, this.split(b, db, sa, op)];
    if (sb && !sa && !a.varying.has(sb.axis)) return [this.split(a, da, sb, op), b];
    return [this.gather(a, da), this.gather(b, db)];
  }

  private get(v: Value, op: string): Local {
    const l = this.map.get(v);
    if (!l) throw new Vit22bError('ERR_INTERNAL', `partition: ${op} reads a value that was not partitioned`, { expected: 'a partitioned input', received: v.toString() });
    if (l.opaque) throw notSupported(op, 'reading a norm statistic in the forward pass', v.toString());
    return l;
  }

  private local(src: Value, v: Value, dims: DimLayout[], varying: Set<MeshAxis>): Local {
    return { v, shape: src.shape, dims, varying };
  }

  run(): PartitionResult {
    for (const node of this.src.nodes) {
      this.out.phase = node.phase;
      this.out.scope = node.scope;
      const outs = this.node(node);
      node.outputs.forEach((o, i) => {
        const l = outs[i]!;
        if (o.checkpoint) l.v.checkpoint = true;
        this.map.set(o, l);
      });
    }
    for (const [name, v] of this.src.outputs) this.output(name, v);
    return { graph: this.out, inputs: this.inputs, outputs: this.outputs };
  }

  /** The local outputs of one global node. */
  private node(node: Node): Local[] {
    const op = node.op;
    const a = node.attrs;
    switch (op) {
      case 'input':
        return [this.inputLeaf(node)];
      case 'param':
      case 'state':
        return [this.persistentLeaf(node)];
      case 'const': {
        const v = this.apply('const', [], a).outputs[0]!;
        return [this.local(node.outputs[0]!, v, node.outputs[0]!.shape.map(() => null), new Set())];
      }
      case 'cast': {
        const first = this.castFirst.get(node.outputs[0]!);
        if (first) return [first];
        const x = this.get(node.inputs[0]!, op);
        return [this.local(node.outputs[0]!, this.apply(op, [x.v], a).outputs[0]!, [...x.dims], x.varying)];
      }
      case 'scale':
      case 'gelu':
      case 'copy': {
        const x = this.get(node.inputs[0]!, op);
        return [this.local(node.outputs[0]!, this.apply(op, [x.v], a).outputs[0]!, [...x.dims], x.varying)];
      }
      case 'add':
        return [this.elementwise(node)];
      case 'bias_add': {
        let x = this.get(node.inputs[0]!, op);
        let b = this.get(node.inputs[1]!, op);
        [x, b] = this.unifyDim(x, x.shape.length - 1, b, 0, op);
        const u = this.unifyVarying([x, b]);
        [x, b] = u.ls as [Local, Local];
        return [this.local(node.outputs[0]!, this.apply(op, [x.v, b.v], a).outputs[0]!, [...x.dims], u.varying)];
      }
      case 'pos_embed_add': {
        let x = this.get(node.inputs[0]!, op);
        let p = this.get(node.inputs[1]!, op);
        [x, p] = this.unifyDim(x, 1, p, 0, op);
        [x, p] = this.unifyDim(x, 2, p, 1, op);
        const u = this.unifyVarying([x, p]);
        [x, p] = u.ls as [Local, Local];
        return [this.local(node.outputs[0]!, this.apply(op, [x.v, p.v], a).outputs[0]!, [...x.dims], u.varying)];
      }
      case 'layer_norm':
        return this.layerNorm(node);
      case 'matmul':
        return [this.matmul(node)];
      case 'slice':
        return [this.slice(node)];
      case 'concat':
        return [this.concat(node)];
      case 'reshape':
        return [this.reshape(node)];
      case 'attention':
        return this.attention(node);
      case 'attention_stats': {
        let q = this.gather(this.get(node.inputs[0]!, op), 2);
        let k = this.gather(this.get(node.inputs[1]!, op), 2);
        [q, k] = this.unifyDim(q, 0, k, 0, op);
        const u = this.unifyVarying([q, k]);
        [q, k] = u.ls as [Local, Local];
        return [this.local(node.outputs[0]!, this.apply(op, [q.v, k.v], a).outputs[0]!, [null], u.varying)];
      }
      case 'broadcast_batch': {
        let x = this.get(node.inputs[0]!, op);
        if (x.dims.some((d) => d)) x = x.dims.reduce((l, _d, i) => this.gather(l, i), x);
        const t = this.mesh.data;
        const batch = a.batch as number;
        if (batch % t !== 0) throw batchError(`broadcast_batch`, batch, t);
        x = this.vary(x, ['data']);
        const v = this.apply(op, [x.v], { ...a, batch: batch / t }).outputs[0]!;
        return [this.local(node.outputs[0]!, v, [this.active('data') ? { axis: 'data' } : null, ...x.dims], x.varying)];
      }
      case 'mean_pool': {
        const x = this.get(node.inputs[0]!, op);
        const l = x.dims[1] ? this.gather(x, 1) : x;
        return [this.local(node.outputs[0]!, this.apply(op, [l.v], a).outputs[0]!, [l.dims[0]!, l.dims[2]!], l.varying)];
      }
      case 'patchify': {
        const x = this.get(node.inputs[0]!, op);
        if (x.dims.slice(1).some((d) => d)) throw notSupported(op, 'images split off the batch dimension', JSON.stringify(x.dims));
        return [this.local(node.outputs[0]!, this.apply(op, [x.v], a).outputs[0]!, [x.dims[0]!, null, null], x.varying)];
      }
      case 'softmax_xent':
      case 'sigmoid_xent':
      case 'topk_accuracy':
        return this.loss(node);
      default:
        break;
    }
    // Any other op on values every device holds whole runs as it is.
    const ins = node.inputs.map((v) => this.get(v, op));
    if (ins.some((l) => l.dims.some((d) => d))) throw notSupported(op, 'this op has no partitioning rule for split inputs', ins.map((l) => JSON.stringify(l.dims)).join(', '));
    const u = this.unifyVarying(ins);
    const n = this.apply(op, u.ls.map((l) => l.v), a);
    return n.outputs.map((v, i) => this.local(node.outputs[i]!, v, node.outputs[i]!.shape.map(() => null), u.varying));
  }

  private inputLeaf(node: Node): Local {
    const a = node.attrs;
    const name = a.name as string;
    const shape = node.outputs[0]!.shape;
    const dims: DimLayout[] = shape.map(() => null);
    if (this.active('data')) {
      if (shape.length === 0) throw notSupported('input', `input '${name}' has no batch dimension to split over data`, '[]');
      if (shape[0]! % this.mesh.data !== 0) throw batchError(`input '${name}'`, shape[0]!, this.mesh.data);
      dims[0] = { axis: 'data' };
    }
    this.inputs.set(name, { shape, dims });
    const local = localShape(`input '${name}'`, shape, dims, this.mesh);
    const v = this.apply('input', [], { ...a, shape: local }).outputs[0]!;
    return this.local(node.outputs[0]!, v, dims, new Set(this.active('data') ? ['data'] : []));
  }

  private persistentLeaf(node: Node): Local {
    const a = node.attrs;
    const name = a.name as string;
    const shape = node.outputs[0]!.shape;
    // Splits over an axis of size 1 are no splits.
    const dims = normalizeSharding(a.sharding as never, shape.length).map((d) => (d && this.active(d.axis) ? canonical(d) : null));
    if (dims.some((d) => d?.axis === 'data')) throw notSupported(node.op, `'${name}' split over data (parameter sharding over data comes with ZeRO-3)`, JSON.stringify(dims));
    const local = localShape(`${node.op} '${name}'`, shape, dims, this.mesh);
    const { sharding: _drop, ...rest } = a as Record<string, unknown>;
    void _drop;
    const zeroDim = node.op === 'param' ? this.zeroDim(shape, dims, node.outputs[0]!.dtype) : -1;
    if (zeroDim >= 0) {
      // ZeRO-3: stored split over data too, gathered whole (over data) for its users.
      const stored = [...dims];
      stored[zeroDim] = { axis: 'data' };
      const storedLocal = localShape(`${node.op} '${name}'`, shape, stored, this.mesh);
      const leaf = this.apply(node.op, [], { ...rest, shape: storedLocal, layout: { shape, dims: stored } }).outputs[0]!;
      const varying = new Set<MeshAxis>(['data', ...dims.filter((d): d is DimSplit => !!d).map((d) => d.axis)]);
      // Under bf16-mixed a weight read only through casts to bf16 is cast on its slice and gathered
      // in bf16: half the bytes on the wire (and its gradient reduce-scattered in bf16, summed in f32).
      const casts = this.readers.get(node.outputs[0]!) ?? [];
      if (casts.length > 0 && casts.every((c) => c.op === 'cast' && c.attrs.dtype === 'bf16')) {
        const half = this.out.apply('cast', [leaf], { dtype: 'bf16' });
        const gathered = gatherDim(this.out, half, zeroDim, 'data', this.mesh.data, [shape[zeroDim]!]);
        for (const c of casts) this.castFirst.set(c.outputs[0]!, this.local(c.outputs[0]!, gathered, dims, varying));
      }
      const v = gatherDim(this.out, leaf, zeroDim, 'data', this.mesh.data, [shape[zeroDim]!]);
      return this.local(node.outputs[0]!, v, dims, varying);
    }
    const layout: LeafLayout = { shape, dims };
    const v = this.apply(node.op, [], { ...rest, shape: local, layout }).outputs[0]!;
    return this.local(node.outputs[0]!, v, dims, new Set(dims.filter((d): d is DimSplit => !!d).map((d) => d.axis)));
  }

  /** The dimension ZeRO-3 splits over data (the first whole one that data divides), or -1. */
  private zeroDim(shape: Shape, dims: readonly DimLayout[], dtype: string): number {
    if (this.options.zero !== 3 || !this.active('data') || (dtype !== 'f32' && dtype !== 'bf16')) return -1;
    const local = localShape('param', shape, dims, this.mesh);
    if (local.reduce((a, b) => a * b, 1) < ZERO3_MIN_ELEMENTS) return -1;
    return shape.findIndex((d, i) => !dims[i] && d % this.mesh.data === 0);
  }

  private elementwise(node: Node): Local {
    let ls = node.inputs.map((v) => this.get(v, node.op));
    const rank = ls[0]!.shape.length;
    for (let d = 0; d < rank; ++d) {
      for (let i = 1; i < ls.length; ++i) {
        const [x, y] = this.unifyDim(ls[0]!, d, ls[i]!, d, node.op);
        ls[0] = x;
        ls[i] = y;
      }
      // The first may have changed after later ones were aligned with it: align them again.
      for (let i = 1; i < ls.length; ++i) if (!sameSplit(ls[0]!.dims[d]!, ls[i]!.dims[d]!, ls[0]!.shape[d]!)) ls[i] = this.gather(ls[i]!, d);
    }
    const u = this.unifyVarying(ls);
    ls = u.ls;
    return this.local(node.outputs[0]!, this.apply(node.op, ls.map((l) => l.v), node.attrs).outputs[0]!, [...ls[0]!.dims], u.varying);
  }

  /**
   * A norm over the last dimension. When that dimension is split (in one segment) over an axis, the
   * norm runs on the local columns as the paper's layout does: row_moments of the local slice
   * [rows, 2] (sum, sum of squares) -> all_reduce over the axis (2 floats a row) -> norm_apply of
   * the local columns with the global moments and this rank's slice of scale/bias. The output stays
   * feature-split, so the next matmul gathers the NORMALIZED slices, which the ring pass (ring.ts)
   * fuses into that matmul. The all-reduced moments are invariant over the axis and meet the varying
   * slice in norm_apply: their pvary's adjoint sums each rank's part of the moments' gradient, and
   * row_moments_grad carries it back into x. Split otherwise (rows split, the QK norm's [B, T, H, dh]
   * with H over model, or a segmented split), the norm runs on whole rows as one fused kernel.
   */
  private layerNorm(node: Node): Local[] {
    const op = node.op;
    const input = this.get(node.inputs[0]!, op);
    const last = node.inputs[0]!.shape.length - 1;
    const split = input.dims[last];
    if (split && !split.segments) return this.splitNorm(node, input, split);
    // Rows split otherwise (the QK norm's [B, T, H, dh] with H over model) are rows like any other.
    const x = this.gather(this.get(node.inputs[0]!, op), node.inputs[0]!.shape.length - 1);
    const params = node.inputs.slice(1).map((v) => this.gather(this.get(v, op), 0));
    const u = this.unifyVarying([x, ...params]);
    const n = this.apply(op, u.ls.map((l) => l.v), node.attrs);
    const y = this.local(node.outputs[0]!, n.outputs[0]!, [...u.ls[0]!.dims], u.varying);
    const stats = n.outputs.slice(1).map((v, i) => ({ ...this.local(node.outputs[i + 1]!, v, [null], u.varying), opaque: true }));
    return [y, ...stats];
  }

  /** The norm of a stream whose features are split over `split.axis` (see layerNorm). */
  private splitNorm(node: Node, x: Local, split: DimSplit): Local[] {
    const op = node.op;
    const last = x.shape.length - 1;
    const axis = split.axis;
    const ranks = this.mesh[axis];
    const a = node.attrs as { center?: boolean; eps?: number; hasBias?: boolean };
    // scale [D] (and bias [D]): this rank's columns, the block the slice of x holds.
    const params = node.inputs.slice(1).map((v) => {
      const p = this.get(v, op);
      return sameSplit(p.dims[0] ?? null, split, p.shape[0]!) ? p : this.split(p, 0, split, op);
    });
    const partial = this.out.apply('row_moments', [x.v]); // [rows, 2], this rank's columns
    const sums = this.out.apply('all_reduce', [partial], { axis, ranks }); // the whole rows' moments
    const varying = new Set(x.varying);
    varying.delete(axis);
    const stats: Local = { v: sums, shape: [sums.shape[0]!, 2], dims: [null, null], varying };
    const u = this.unifyVarying([x, stats, ...params]);
    const attrs = { total: x.shape[last]!, center: a.center !== false, eps: a.eps ?? 1e-6, hasBias: !!a.hasBias };
    const y = this.out.apply('norm_apply', u.ls.map((l) => l.v), attrs);
    // The fused norm's mean/rstd outputs have no counterpart here: nothing in a forward graph reads
    // them (get() refuses), so they stand for the moments, opaque.
    const opaque = node.outputs.slice(1).map((o) => ({ ...this.local(o, sums, [null], varying), opaque: true }));
    return [this.local(node.outputs[0]!, y, [...x.dims], u.varying), ...opaque];
  }

  /**
   * a [..., K] @ b [K, N]. b whole on K: a is gathered on K and the product is split like b's N
   * (the column-parallel in-projection). b split on K over model: a takes the same split and the
   * partial products are reduce-scattered over N (the row-parallel out-projection).
   */
  private matmul(node: Node): Local {
    const op = node.op;
    if (node.attrs.transA || node.attrs.transB) {
      const ins = node.inputs.map((v) => this.get(v, op));
      if (ins.some((l) => l.dims.some((d) => d))) throw notSupported(op, 'transposed operands that are split', JSON.stringify(ins.map((l) => l.dims)));
    }
    let x = this.get(node.inputs[0]!, op);
    let w = this.get(node.inputs[1]!, op);
    const last = x.shape.length - 1;
    if (w.shape.length !== 2) throw notSupported(op, 'a right operand that is not a matrix', `rank ${w.shape.length}`);
    if (x.dims.slice(0, -1).some((d) => d && d.axis !== 'data')) x = x.dims.slice(0, -1).reduce((l, d, i) => (d && d.axis !== 'data' ? this.gather(l, i) : l), x);
    const kSplit = w.dims[0];
    if (kSplit && w.dims[1]) throw notSupported(op, 'a weight split on both dimensions', JSON.stringify(w.dims));
    if (!kSplit) {
      x = this.gather(x, last);
      const u = this.unifyVarying([x, w]);
      [x, w] = u.ls as [Local, Local];
      const v = this.apply(op, [x.v, w.v], node.attrs).outputs[0]!;
      return this.local(node.outputs[0]!, v, [...x.dims.slice(0, -1), w.dims[1] ?? null], u.varying);
    }
    if (!sameSplit(x.dims[last] ?? null, kSplit, x.shape[last]!)) x = this.split(x, last, kSplit, op);
    const u = this.unifyVarying([x, w]);
    [x, w] = u.ls as [Local, Local];
    const partial = this.apply(op, [x.v, w.v], node.attrs).outputs[0]!;
    const axis = kSplit.axis;
    const ranks = this.mesh[axis];
    const outLast = partial.shape.length - 1;
    const dims = [...x.dims.slice(0, -1), null as DimLayout];
    if (partial.shape[outLast]! % ranks === 0) {
      const v = reduceScatterDim(this.out, partial, outLast, axis, ranks);
      dims[outLast] = { axis };
      return this.local(node.outputs[0]!, v, dims, u.varying);
    }
    // N not divisible: every rank keeps the whole sum (and no longer varies over the axis).
    const v = this.out.apply('all_reduce', [partial], { axis, ranks });
    const varying = new Set(u.varying);
    varying.delete(axis);
    return this.local(node.outputs[0]!, v, dims, varying);
  }

  private slice(node: Node): Local {
    let x = this.get(node.inputs[0]!, node.op);
    const { axis, begin, end } = node.attrs as { axis: number; begin: number; end: number };
    const split = x.dims[axis];
    const out = node.outputs[0]!;
    if (split) {
      const ranks = this.mesh[split.axis];
      const segments = segmentsOf(split, x.shape[axis]!);
      // Whole segments: their local pieces, at local offsets.
      let g = 0;
      let first = -1;
      let lastSeg = -1;
      for (let i = 0; i < segments.length; ++i) {
        if (g === begin) first = i;
        g += segments[i]!;
        if (g === end) lastSeg = i;
      }
      if (first >= 0 && lastSeg >= first) {
        const localBegin = segments.slice(0, first).reduce((s, n) => s + n / ranks, 0);
        const kept = segments.slice(first, lastSeg + 1);
        const localEnd = localBegin + kept.reduce((s, n) => s + n / ranks, 0);
        const v = localEnd - localBegin === x.v.shape[axis] ? x.v : this.apply('slice', [x.v], { axis, begin: localBegin, end: localEnd }).outputs[0]!;
        const dims = [...x.dims];
        dims[axis] = canonical({ axis: split.axis, segments: kept });
        return this.local(out, v, dims, x.varying);
      }
      x = this.gather(x, axis);
    }
    return this.local(out, this.apply('slice', [x.v], node.attrs).outputs[0]!, [...x.dims], x.varying);
  }

  private concat(node: Node): Local {
    const axis = node.attrs.axis as number;
    let ls = node.inputs.map((v) => this.get(v, node.op));
    const splits = ls.map((l) => l.dims[axis]);
    const along = splits[0]?.axis;
    const allSplit = along !== undefined && splits.every((s) => s?.axis === along);
    if (!allSplit) ls = ls.map((l) => this.gather(l, axis));
    // Off the axis, every input like the first.
    for (let d = 0; d < ls[0]!.shape.length; ++d) {
      if (d === axis) continue;
      for (let i = 1; i < ls.length; ++i) {
        const [x, y] = this.unifyDim(ls[0]!, d, ls[i]!, d, node.op);
        ls[0] = x;
        ls[i] = y;
      }
    }
    const u = this.unifyVarying(ls);
    ls = u.ls;
    const dims = [...ls[0]!.dims];
    if (allSplit) dims[axis] = canonical({ axis: along!, segments: ls.flatMap((l) => segmentsOf(l.dims[axis]!, l.shape[axis]!)) });
    return this.local(node.outputs[0]!, this.apply('concat', ls.map((l) => l.v), node.attrs).outputs[0]!, dims, u.varying);
  }

  /**
   * A reshape keeps a split when the split dimension leads its group of dimensions on both sides
   * (D -> [H, dh] splits H; [H, dh] -> D splits D; [B, T] -> B*T keeps B's); otherwise the split
   * dimension is gathered first.
   */
  private reshape(node: Node): Local {
    let x = this.get(node.inputs[0]!, node.op);
    const from = x.shape;
    const to = (node.attrs.shape as readonly number[]) ?? node.outputs[0]!.shape;
    for (;;) {
      const dims = mapReshapeDims(from, to, x.dims, this.mesh);
      if (dims.ok) {
        const local = localShape('reshape', to, dims.dims, this.mesh);
        return this.local(node.outputs[0]!, this.apply('reshape', [x.v], { shape: local }).outputs[0]!, dims.dims, x.varying);
      }
      x = this.gather(x, dims.blocked);
    }
  }

  private attention(node: Node): Local[] {
    const op = node.op;
    let [q, k, v] = node.inputs.map((x) => this.get(x, op)) as [Local, Local, Local];
    const heads = node.attrs.heads as number;
    const split = [q, k, v].map((l) => l.dims[2]).find((d) => d) ?? null;
    if (split) {
      if (split.segments) throw notSupported(op, 'a segmented split of the head dimension', JSON.stringify(split));
      const ranks = this.mesh[split.axis];
      if (heads % ranks !== 0) {
        throw new Vit22bError('ERR_INVALID_CONFIG', `heads ${heads} is not divisible by ${split.axis}=${ranks}`, { expected: `heads a multiple of ${ranks}`, received: `${heads}` });
      }
      [q, k, v] = [q, k, v].map((l) => (sameSplit(l.dims[2]!, split, l.shape[2]!) ? l : this.split(l, 2, split, op))) as [Local, Local, Local];
    }
    [q, k] = this.unifyDim(q, 0, k, 0, op);
    [k, v] = this.unifyDim(k, 0, v, 0, op);
    [q, k] = this.unifyDim(q, 0, k, 0, op);
    const u = this.unifyVarying([q, k, v]);
    [q, k, v] = u.ls as [Local, Local, Local];
    const local = split ? heads / this.mesh[split.axis] : heads;
    // The logit scale follows the head width, which splitting heads does not change.
    const n = this.apply(op, [q.v, k.v, v.v], { ...node.attrs, heads: local });
    const o = this.local(node.outputs[0]!, n.outputs[0]!, [...q.dims], u.varying);
    const lse = this.local(node.outputs[1]!, n.outputs[1]!, [q.dims[0]!, split, null], u.varying);
    return [o, lse];
  }

  /** Losses and metrics read whole logit rows; their batch is this rank's shard. */
  private loss(node: Node): Local[] {
    const op = node.op;
    let logits = this.gather(this.get(node.inputs[0]!, op), 1);
    let y = this.get(node.inputs[1]!, op);
    if (y.dims.length > 1) y = this.gather(y, 1);
    [logits, y] = this.unifyDim(logits, 0, y, 0, op);
    const u = this.unifyVarying([logits, y]);
    [logits, y] = u.ls as [Local, Local];
    const n = this.apply(op, [logits.v, y.v], node.attrs);
    return n.outputs.map((v, i) => {
      const rank = node.outputs[i]!.shape.length;
      const dims: DimLayout[] = rank === 0 ? [] : rank === 1 && op !== 'topk_accuracy' ? [logits.dims[0]!] : [null, null].slice(0, rank);
      return this.local(node.outputs[i]!, v, dims, u.varying);
    });
  }

  private output(name: string, src: Value): void {
    let l = this.get(src, `output '${name}'`);
    this.out.phase = 'forward';
    this.out.scope = '';
    // The host reads whole features, so a split off the batch is gathered on the device.
    for (let d = 0; d < l.dims.length; ++d) if (l.dims[d] && l.dims[d]!.axis !== 'data') l = this.gather(l, d);
    let kind: OutputAssembly = 'replicated';
    if (l.shape.length === 0 && l.v.dtype === 'f32') {
      // A scalar (the loss): the mean over every axis it varies on, on the device, so every rank
      // holds the global value and takes the same decisions from it.
      let v = l.v;
      for (const axis of MESH_AXES) {
        if (l.varying.has(axis) && this.active(axis)) v = this.out.apply('all_reduce', [v], { axis, ranks: this.mesh[axis], scale: 1 / this.mesh[axis] });
      }
      l = { ...l, v, varying: new Set() };
    } else if (l.dims[0]?.axis === 'data') {
      kind = 'batch';
    } else if (l.varying.has('data') && this.active('data')) {
      kind = src.node.op === 'attention_stats' ? 'attention-stats' : l.v.dtype === 'i32' ? 'sum' : 'mean';
    }
    this.outputs.set(name, kind);
    this.out.setOutput(name, l.v);
  }
}

function batchError(what: string, batch: number, t: number): Vit22bError {
  const why = batch < t ? `the batch ${batch} is smaller than the mesh's data=${t}` : `the batch ${batch} is not divisible by data=${t}`;
  return new Vit22bError('ERR_INVALID_CONFIG', `${what}: ${why}`, { expected: `a batch that is a multiple of ${t}`, received: `${batch}` });
}

/**
 * Where the splits of `dims` (over shape `from`) land in shape `to`, or the first dimension that
 * must be gathered before this reshape can keep its split.
 */
export function mapReshapeDims(from: Shape, to: Shape, dims: readonly DimLayout[], mesh: MeshShape): { ok: true; dims: DimLayout[] } | { ok: false; blocked: number } {
  const out: DimLayout[] = to.map(() => null);
  // Groups of dimensions with equal products, size-1 dimensions skipped (they are never split).
  const f = from.map((d, i) => [d, i] as const).filter(([d]) => d !== 1);
  const t = to.map((d, i) => [d, i] as const).filter(([d]) => d !== 1);
  let i = 0;
  let j = 0;
  while (i < f.length && j < t.length) {
    const gi = [f[i]!];
    const gj = [t[j]!];
    let pf = f[i]![0];
    let pt = t[j]![0];
    i++;
    j++;
    while (pf !== pt) {
      if (pf < pt) {
        gi.push(f[i]!);
        pf *= f[i++]![0];
      } else {
        gj.push(t[j]!);
        pt *= t[j++]![0];
      }
    }
    // Only the leading dimension of a source group may be split, and only in one segment onto the
    // leading dimension of the target group.
    for (let k = 0; k < gi.length; ++k) {
      const index = gi[k]![1];
      const split = dims[index];
      if (!split) continue;
      const n = mesh[split.axis];
      const lead = gj[0]!;
      const oneToOne = gi.length === 1 && gj.length === 1;
      if (k !== 0 || (!oneToOne && split.segments) || lead[0] % n !== 0) return { ok: false, blocked: index };
      out[lead[1]] = split;
    }
  }
  for (let k = 0; k < from.length; ++k) if (from[k] === 1 && dims[k]) return { ok: false, blocked: k };
  return { ok: true, dims: out };
}

/** The SPMD graph of `g` for `mesh` (see the file comment). `g` itself is left as it was. */
export function partition(g: Graph, mesh: MeshShape, options: PartitionOptions = {}): PartitionResult {
  return new Partitioner(g, mesh, options).run();
}
