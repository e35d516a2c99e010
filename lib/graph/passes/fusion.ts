/**
 * Fusion: fewer kernels and fewer round trips through memory.
 *  - matmul -> bias_add           => linear with the bias in the GEMM epilogue (an f32 bias too)
 *  - matmul|linear -> gelu        => linear with GELU in the epilogue, only where nothing else reads
 *                                    the pre-activation (so not in training graphs, whose backward needs it)
 *  - add(r, matmul|linear)        => linear with r as C and beta = 1 (residual connections, and
 *                                    gradient sums where one term is a GEMM), in place when r dies
 *  - cast(matmul|linear -> f32)   => the GEMM writes f32 itself (bf16-mixed weight gradients go
 *                                    straight into their f32 buffers, never rounded to bf16)
 *  - bias_add -> gelu, gelu_grad  => both add the bias themselves (biases no GEMM epilogue can take)
 *  - add(r, layer_norm_grad.dx)   => the norm backward adds r (the residual gradient) itself
 *  - add(slice_grad, slice_grad)  => scatter_slices (disjoint pieces of one gradient: a concatenation
 *                                    when they cover it, so no zero fill and no adds)
 *  - adamw_update x N             => one adamw_multi_update (one launch for the whole model)
 * A producer is fused only when the fused node is its single reader and its value is not a program
 * output or a persistent gradient, and only within one phase (rematerialization relies on phases).
 */
import type { Graph, Node, Value } from '../ir';
import type { LinearAttrs } from '../ops/linear';
import { numel } from '../types';

export interface FusionReport {
  scatter: number;
  bias: number;
  gelu: number;
  residual: number;
  /** GEMMs that now write the f32 their cast made. */
  f32Out: number;
  /** Biases folded into the GELU (and GELU-gradient) kernels after them. */
  biasGelu: number;
  /** Residual gradients added by the norm backward that meets them. */
  normResidual: number;
  optimizer: number;
}

function soleReader(g: Graph, v: Value, reader: Node, readers: Map<Value, Node[]>): boolean {
  const r = readers.get(v) ?? [];
  const isOutput = [...g.outputs.values()].includes(v);
  return r.length === 1 && r[0] === reader && !isOutput && v.persistentName === undefined && !v.checkpoint;
}

function gemmAttrs(n: Node): LinearAttrs {
  const a = n.attrs as LinearAttrs;
  return n.op === 'linear' ? { ...a } : { transA: a.transA, transB: a.transB, outDtype: n.outputs[0]!.dtype };
}

/** Replaces `consumer` (reading producer's output) by a linear node with `attrs` and `inputs`. */
function replaceWithLinear(g: Graph, producer: Node, consumer: Node, inputs: Value[], attrs: LinearAttrs): void {
  const at = g.nodes.indexOf(consumer);
  const fused = g.addAt(at, 'linear', inputs, attrs as Record<string, unknown>);
  fused.phase = consumer.phase;
  fused.scope = consumer.scope;
  g.replaceUses(consumer.outputs[0]!, fused.outputs[0]!);
  g.nodes = g.nodes.filter((n) => n !== producer && n !== consumer);
}

function gemmParts(n: Node): { xw: Value[]; bias?: Value; residual?: Value } {
  const a = n.attrs as LinearAttrs;
  const xw = n.inputs.slice(0, 2);
  if (n.op !== 'linear') return { xw };
  return { xw, bias: a.hasBias ? n.inputs[2] : undefined, residual: a.hasResidual ? n.inputs[a.hasBias ? 3 : 2] : undefined };
}

function fuseOnce(g: Graph, report: FusionReport): boolean {
  const readers = g.consumers();
  for (const n of g.nodes) {
    const src = n.inputs[0]?.node;
    // The epilogue reads a bias of C's type, or an f32 one (the f32 master bias of bf16-mixed).
    const epilogueBias = (b: Value, c: Value) => b.dtype === c.dtype || b.dtype === 'f32';
    if (n.op === 'bias_add' && src && src.op === 'matmul' && src.phase === n.phase && soleReader(g, n.inputs[0]!, n, readers) && epilogueBias(n.inputs[1]!, n.outputs[0]!)) {
      replaceWithLinear(g, src, n, [...src.inputs, n.inputs[1]!], { ...gemmAttrs(src), hasBias: true });
      report.bias++;
      return true;
    }
    if (n.op === 'bias_add' && foldBiasIntoGelu(g, n, readers)) {
      report.biasGelu++;
      return true;
    }
    if (n.op === 'add' && foldResidualIntoNormGrad(g, n, readers)) {
      report.normResidual++;
      return true;
    }
    if (n.op === 'gelu' && !n.attrs.hasBias && src && (src.op === 'matmul' || src.op === 'linear') && src.phase === n.phase && soleReader(g, n.inputs[0]!, n, readers)) {
      const a = gemmAttrs(src);
      if (a.gelu !== undefined || a.hasResidual) continue;
      const p = gemmParts(src);
      const inputs = p.bias ? [...p.xw, p.bias] : p.xw;
      replaceWithLinear(g, src, n, inputs, { ...a, gelu: (n.attrs.form as 'tanh' | 'erf') ?? 'tanh', geluBegin: 0, geluEnd: n.outputs[0]!.shape.at(-1) });
      report.gelu++;
      return true;
    }
    if (n.op === 'cast' && n.attrs.dtype === 'f32' && src && (src.op === 'matmul' || src.op === 'linear') && src.phase === n.phase && soleReader(g, n.inputs[0]!, n, readers)) {
      const a = gemmAttrs(src);
      const p = gemmParts(src);
      // The epilogue's bias and residual have C's type: only a GEMM whose extra operands are
      // already f32 (or absent) can change its C to f32.
      if (src.outputs[0]!.dtype !== 'bf16' || a.gelu !== undefined || (p.residual && p.residual.dtype !== 'f32') || (p.bias && p.bias.dtype !== 'f32')) continue;
      replaceWithLinear(g, src, n, src.inputs.slice(), { ...a, outDtype: 'f32' });
      report.f32Out++;
      return true;
    }
    if (n.op === 'add' && mergeScatter(g, n, readers)) {
      report.scatter++;
      return true;
    }
    if (n.op === 'add') {
      for (const j of [1, 0]) {
        const term = n.inputs[j]!;
        const other = n.inputs[1 - j]!;
        const p = term.node;
        if ((p.op !== 'matmul' && p.op !== 'linear') || p.phase !== n.phase || !soleReader(g, term, n, readers)) continue;
        const a = gemmAttrs(p);
        // The epilogue applies GELU after C is added, so gelu(AB) + r cannot take r as C.
        if (a.gelu !== undefined || a.hasResidual) continue;
        if (numel(other.shape) !== numel(term.shape) || other.dtype !== term.dtype) continue;
        const parts = gemmParts(p);
        const inputs = [...parts.xw, ...(parts.bias ? [parts.bias] : []), other];
        replaceWithLinear(g, p, n, inputs, { ...a, hasResidual: true });
        report.residual++;
        return true;
      }
    }
  }
  return false;
}

/**
 * t = bias_add(m, b) read only by gelu(t) and gelu_grad(t, dy): both take (m, b) instead and add the
 * bias themselves, so t is never written (the MLP input of the parallel block, cut out of the fused
 * projection: no GEMM epilogue can add its bias). The bias gradient sum_to(dt) is unchanged.
 */
function foldBiasIntoGelu(g: Graph, add: Node, readers: Map<Value, Node[]>): boolean {
  const [m, b] = add.inputs as [Value, Value];
  const t = add.outputs[0]!;
  const rs = readers.get(t) ?? [];
  if (rs.length === 0 || [...g.outputs.values()].includes(t) || t.persistentName !== undefined || t.checkpoint) return false;
  if (b.dtype !== t.dtype && b.dtype !== 'f32') return false;
  if (!rs.every((r) => (r.op === 'gelu' || r.op === 'gelu_grad') && !r.attrs.hasBias && r.inputs[0] === t && r.inputs.indexOf(t, 1) < 0)) return false;
  for (const r of rs) {
    const fused = g.addAt(g.nodes.indexOf(r), r.op, [m, ...r.inputs.slice(1), b], { ...r.attrs, hasBias: true });
    fused.phase = r.phase;
    fused.scope = r.scope;
    g.replaceUses(r.outputs[0]!, fused.outputs[0]!);
  }
  g.nodes = g.nodes.filter((n) => n !== add && !rs.includes(n));
  return true;
}

/**
 * add(r, dx) with dx the input gradient of a norm (layer_norm_grad): the norm backward adds r
 * itself (dresidual), in place on r when r dies there. That is where a block's residual gradient
 * meets its norm's: x + f(norm(x)).
 */
function foldResidualIntoNormGrad(g: Graph, add: Node, readers: Map<Value, Node[]>): boolean {
  for (const j of [1, 0]) {
    const dx = add.inputs[j]!;
    const r = add.inputs[1 - j]!;
    const ln = dx.node;
    if (ln.op !== 'layer_norm_grad' || dx.index !== 0 || ln.attrs.hasResidual || ln.phase !== add.phase) continue;
    if (!soleReader(g, dx, add, readers) || r === dx || r.dtype !== dx.dtype || numel(r.shape) !== numel(dx.shape)) continue;
    const fused = g.addAt(g.nodes.indexOf(add), 'layer_norm_grad', [...ln.inputs, r], { ...ln.attrs, hasResidual: true });
    fused.phase = add.phase;
    fused.scope = ln.scope;
    g.replaceUses(add.outputs[0]!, fused.outputs[0]!);
    ln.outputs.slice(1).forEach((o, i) => g.replaceUses(o, fused.outputs[i + 1]!));
    g.nodes = g.nodes.filter((n) => n !== add && n !== ln);
    return true;
  }
  return false;
}

/** The pieces of a slice_grad or scatter_slices node: [input, begin] pairs on one axis. */
function scatterPieces(n: Node): { axis: number; length: number; pieces: [Value, number][] } | undefined {
  if (n.op === 'slice_grad') {
    return { axis: n.attrs.axis as number, length: n.attrs.length as number, pieces: [[n.inputs[0]!, n.attrs.begin as number]] };
  }
  if (n.op === 'scatter_slices') {
    const begins = n.attrs.begins as number[];
    return { axis: n.attrs.axis as number, length: n.attrs.length as number, pieces: n.inputs.map((v, i) => [v, begins[i]!]) };
  }
  return undefined;
}

function mergeScatter(g: Graph, add: Node, readers: Map<Value, Node[]>): boolean {
  const [a, b] = add.inputs as [Value, Value];
  const pa = scatterPieces(a.node);
  const pb = scatterPieces(b.node);
  if (!pa || !pb || a === b || pa.axis !== pb.axis || pa.length !== pb.length) return false;
  if (a.node.phase !== add.phase || b.node.phase !== add.phase) return false;
  if (!soleReader(g, a, add, readers) || !soleReader(g, b, add, readers)) return false;
  const pieces = [...pa.pieces, ...pb.pieces].sort((x, y) => x[1] - y[1]);
  for (let i = 1; i < pieces.length; ++i) {
    if (pieces[i]![1] < pieces[i - 1]![1] + pieces[i - 1]![0].shape[pa.axis]!) return false; // overlapping: a real sum
  }
  const at = g.nodes.indexOf(add);
  const fused = g.addAt(at, 'scatter_slices', pieces.map((p) => p[0]), { axis: pa.axis, length: pa.length, begins: pieces.map((p) => p[1]) });
  fused.phase = add.phase;
  fused.scope = add.scope;
  g.replaceUses(add.outputs[0]!, fused.outputs[0]!);
  g.nodes = g.nodes.filter((n) => n !== add && n !== a.node && n !== b.node);
  return true;
}

function mergeOptimizerUpdates(g: Graph, report: FusionReport): void {
  const groups = new Map<string, Node[]>();
  for (const n of g.nodes) {
    if (n.op !== 'adamw_update') continue;
    const clip = n.attrs.hasClip ? n.inputs[4]!.id : -1;
    const key = JSON.stringify([n.attrs, clip]);
    groups.set(key, [...(groups.get(key) ?? []), n]);
  }
  for (const nodes of groups.values()) {
    if (nodes.length < 2) continue;
    const last = nodes[nodes.length - 1]!;
    const hasClip = !!last.attrs.hasClip;
    const inputs = nodes.flatMap((n) => n.inputs.slice(0, 4));
    if (hasClip) inputs.push(last.inputs[4]!);
    const fused = g.addAt(g.nodes.indexOf(last) + 1, 'adamw_multi_update', inputs, last.attrs);
    fused.phase = last.phase;
    g.nodes = g.nodes.filter((n) => !nodes.includes(n));
    report.optimizer += nodes.length;
  }
}

export function fuse(g: Graph): FusionReport {
  const report: FusionReport = { scatter: 0, bias: 0, gelu: 0, residual: 0, f32Out: 0, biasGelu: 0, normResidual: 0, optimizer: 0 };
  while (fuseOnce(g, report)) {
    /* one rewrite per sweep: the reader map changes with every rewrite */
  }
  mergeOptimizerUpdates(g, report);
  return report;
}
