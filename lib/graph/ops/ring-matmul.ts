/**
 * ring_matmul: the asynchronous collective matmul (SHARDING.md "The collective matmul"), written by
 * passes/ring.ts in place of an all_gather -> matmul or a matmul -> reduce_scatter pair over a mesh
 * axis of n ranks. Its lowering runs n ring steps: collective permutes of the next chunk on the
 * communication stream (plan stream 1) while the GEMM of the chunk at hand runs on the node's own
 * (compute) stream, ordered by events. Every GEMM reads its operands and writes its result through
 * windows (offsets, lda/ldb/ldc, beta = 1 to accumulate), so no chunk is copied.
 *
 * kind 'gather' (inputs x [..., c], b; outputs y, g):
 *   y = G @ op(b) with G = x gathered over the axis on its last dimension ([..., n*c]) and op(b)
 *   [n*c, N]; g [n, ...x.shape] is what all_gather(x) gives (rank-major), which the ring fills slot by
 *   slot as chunks arrive (each slot written once, so nothing still being read or sent is ever
 *   overwritten); readers of the gathered value (a weight gradient) read g as they read all_gather's.
 *   Step i on device s: y += chunk (s + d*i) % n @ op(b)[rows of that chunk] (d = +1: chunks come
 *   from the next rank, -1: from the previous one).
 * kind 'scatter' (inputs a, b; outputs z, t):
 *   z = this rank's block of the last dimension of sum over ranks of op(a) @ op(b) (what
 *   reduce_scatter of the column blocks gives), [..., N/n]; t is a scratch buffer of z's type. Step
 *   i: the partial of block (s + d*(i+1)) % n is received from the rank it came from and this rank's
 *   product of that block is accumulated onto it by the GEMM (beta = 1); after n - 1 steps the block
 *   in hand is s. The partials alternate between t and z so that the last lands in z.
 *
 * Which block a device multiplies depends on its axis coordinate, which the SPMD plan does not know:
 * the GEMM operands are rank-relative views (PlanView.rank), resolved when each device loads the plan.
 * (The alternative, rank-aware copies such as axis_slice of the weight rows, would copy every chunk
 * of the weights each step; a load-time offset costs nothing.)
 *
 * Lanes: the rows of the output are split into lanes, each a ring of its own, interleaved so that
 * one lane's GEMM runs while another lane's chunk travels. 'ring': the gather uses one lane (the GEMM
 * of chunk i overlaps the permute of chunk i+1); the scatter two lanes in the same direction (its
 * fused accumulate must wait for the partial it adds to, so a single chain would never overlap).
 * 'bidirectional': two lanes, one sending to the previous rank and one to the next, so both links of
 * a full-duplex ring carry half of every chunk. The permutes all run on the one communication stream
 * because collectives of one communicator must be issued in the same order on every rank.
 *
 * Results equal the plain all_gather/reduce_scatter pair up to the order of floating-point sums (the
 * chunks are accumulated one by one, in an order that depends on the rank). No gradient: the pass
 * runs on the differentiated training graph, where the backward's transposed collectives are pairs
 * like the forward's.
 */
import { Vit22bError } from '../../runtime/errors';
import type { PlanInstruction, PlanView } from '../../runtime/plan-format';
import { DTYPE_BYTES } from '../../runtime/dtype';
import type { Node, Value } from '../ir';
import type { Attrs, LowerContext, OpDef } from '../op-def';
import { lastDim, rowsOf, shapeText, type TensorType } from '../types';
import { requireArity, requireDType, requireSameDType, storageOf } from './check';
import { collectiveAttrs, type CollectiveAttrs } from './collective-attrs';
import { gemmDims, matmulOutDtype } from './matmul';

export type RingLanes = 'ring' | 'bidirectional';

export interface RingMatmulAttrs extends CollectiveAttrs {
  kind: 'gather' | 'scatter';
  lanes: RingLanes;
  transA?: boolean;
  transB?: boolean;
  outDtype?: string;
}

/** The plan stream the permutes go to (the communication stream of passes/streams.ts). */
export const RING_COMM_STREAM = 1;

function ringAttrs(attrs: Attrs): RingMatmulAttrs {
  const a = attrs as unknown as RingMatmulAttrs;
  collectiveAttrs('ring_matmul', attrs);
  if (a.kind !== 'gather' && a.kind !== 'scatter') {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', "ring_matmul: kind must be 'gather' or 'scatter'", { expected: 'gather | scatter', received: String(a.kind) });
  }
  if (a.lanes !== 'ring' && a.lanes !== 'bidirectional') {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', "ring_matmul: lanes must be 'ring' or 'bidirectional'", { expected: 'ring | bidirectional', received: String(a.lanes) });
  }
  if (a.ranks < 2) throw new Vit22bError('ERR_INVALID_ARGUMENT', 'ring_matmul needs an axis of at least 2 ranks', { expected: 'ranks >= 2', received: String(a.ranks) });
  return a;
}

function shapeError(why: string, expected: string, received: string): Vit22bError {
  return new Vit22bError('ERR_SHAPE_MISMATCH', `ring_matmul: ${why}`, { expected, received });
}

export const ringMatmulOp: OpDef = {
  name: 'ring_matmul',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    requireArity('ring_matmul', inputs, 2);
    const a = ringAttrs(attrs);
    const [x, b] = inputs as [TensorType, TensorType];
    requireDType('ring_matmul', 'a', x, ['f32', 'bf16']);
    requireSameDType('ring_matmul', 'a and b', x, b);
    const out = matmulOutDtype('ring_matmul', x, a);
    const n = a.ranks;
    if (a.kind === 'gather') {
      if (a.transA) throw shapeError('a gathered operand is multiplied untransposed', 'transA false', 'transA true');
      const gathered = [...x.shape.slice(0, -1), lastDim(x.shape) * n];
      const d = gemmDims('ring_matmul', gathered, b.shape, false, !!a.transB);
      return [
        { shape: d.outShape, dtype: out },
        { shape: [n, ...x.shape], dtype: x.dtype },
      ];
    }
    const d = gemmDims('ring_matmul', x.shape, b.shape, !!a.transA, !!a.transB);
    if (d.n % n !== 0) throw shapeError(`the product's ${d.n} columns do not split into ${n} blocks`, `a multiple of ${n}`, shapeText(d.outShape));
    const local = [...d.outShape.slice(0, -1), d.n / n];
    return [
      { shape: local, dtype: out },
      { shape: local, dtype: out },
    ];
  },
  lower(ctx: LowerContext, node: Node): void {
    const a = node.attrs as unknown as RingMatmulAttrs;
    if (a.kind === 'gather') lowerGather(ctx, node, a);
    else lowerScatter(ctx, node, a);
  },
};

interface Lane {
  /** Rows [r0, r1) of the output. */
  r0: number;
  r1: number;
  /** +1: chunks come from the next rank (sent to the previous); -1: the other way. */
  dir: 1 | -1;
}

function lanesOf(rows: number, mode: RingLanes, kind: 'gather' | 'scatter'): Lane[] {
  const half = Math.floor(rows / 2);
  if (half === 0 || (mode === 'ring' && kind === 'gather')) return [{ r0: 0, r1: rows, dir: 1 }];
  return [
    { r0: 0, r1: half, dir: 1 },
    { r0: half, r1: rows, dir: mode === 'ring' ? 1 : -1 },
  ];
}

/** (d * i) mod n in [0, n). */
function mod(v: number, n: number): number {
  return ((v % n) + n) % n;
}

function at(v: PlanView, offset: number, bytes: number, rank?: PlanView['rank']): PlanView {
  return { slot: v.slot, offset: v.offset + offset, bytes, ...(rank ? { rank } : {}) };
}

/** The permute's shift for a lane: receiving from the next rank means sending to the previous. */
function shiftOf(lane: Lane, n: number): number {
  return lane.dir === 1 ? n - 1 : 1;
}

/** Rows of op(b) (the contracted dimension) [r, r + rows) as a rank-relative window of b. */
function bRows(b: Value, bv: PlanView, n: number, rows: number, transB: boolean, shift: number, axis: RingMatmulAttrs['axis']): { view: PlanView; ldb: number } {
  const el = DTYPE_BYTES[b.dtype];
  const ldb = lastDim(b.shape);
  if (!transB) return { view: at(bv, 0, rows * ldb * el, { axis, ranks: n, shift, step: rows * ldb * el }), ldb };
  // b stored [N, K]: op(b)'s rows are b's columns.
  const nRows = rowsOf(b.shape);
  return { view: at(bv, 0, ((nRows - 1) * ldb + rows) * el, { axis, ranks: n, shift, step: rows * el }), ldb };
}

/** Columns [c, c + cols) of op(b) as a rank-relative window of b. */
function bCols(b: Value, bv: PlanView, n: number, cols: number, transB: boolean, shift: number, axis: RingMatmulAttrs['axis']): { view: PlanView; ldb: number } {
  const el = DTYPE_BYTES[b.dtype];
  const ldb = lastDim(b.shape);
  if (transB) return { view: at(bv, 0, cols * ldb * el, { axis, ranks: n, shift, step: cols * ldb * el }), ldb };
  const kRows = rowsOf(b.shape);
  return { view: at(bv, 0, ((kRows - 1) * ldb + cols) * el, { axis, ranks: n, shift, step: cols * el }), ldb };
}

function lowerGather(ctx: LowerContext, node: Node, a: RingMatmulAttrs): void {
  const [x, b] = node.inputs as [Value, Value];
  const [y, g] = node.outputs as [Value, Value];
  const n = a.ranks;
  const c = lastDim(x.shape);
  const m = rowsOf(x.shape);
  const nOut = lastDim(y.shape);
  const el = DTYPE_BYTES[x.dtype];
  const elY = DTYPE_BYTES[y.dtype];
  const xv = ctx.view(x);
  const gv = ctx.view(g);
  const bv = ctx.view(b);
  const yv = ctx.view(y);
  const abType = storageOf('ring_matmul', 'a', x.dtype);
  const cType = storageOf('ring_matmul', 'output', y.dtype);
  const slot = m * c * el;
  const lanes = lanesOf(m, a.lanes, 'gather');
  // The chunk a lane holds at step i: x itself at step 0, then slot (s + d*i) % n of g.
  const chunk = (lane: Lane, i: number): PlanView => {
    const rows = lane.r1 - lane.r0;
    if (i === 0) return at(xv, lane.r0 * c * el, rows * c * el);
    return at(gv, lane.r0 * c * el, rows * c * el, { axis: a.axis, ranks: n, shift: mod(lane.dir * i, n), step: slot });
  };
  const received: PlanInstruction[][] = lanes.map(() => []);
  // The permutes first in plan order of the communication stream: each waits for nothing but its
  // own chunk (the previous permute of its lane, earlier on the same stream), so the stream runs
  // ahead of the GEMMs; every slot is written once, so none is overwritten while read.
  for (let i = 0; i + 1 < n; ++i) {
    lanes.forEach((lane, l) => {
      const rows = lane.r1 - lane.r0;
      received[l]!.push(
        ctx.emit('collective_permute', { axis: a.axis, ranks: n, dtype: abType, count: rows * c, shift: shiftOf(lane, n), x: chunk(lane, i), y: chunk(lane, i + 1) }, { stream: RING_COMM_STREAM }),
      );
    });
  }
  // Readers of the gathered value need this rank's own chunk in its slot too (the permutes never
  // write slot s): one copy, off the compute stream.
  let own: PlanInstruction | undefined;
  if (ctx.used(g)) own = ctx.emit('strided_copy', { dtype: abType, batch: 1, cols: m * c, xStride: m * c, yStride: m * c, x: xv, y: at(gv, 0, slot, { axis: a.axis, ranks: n, shift: 0, step: slot }) }, { stream: RING_COMM_STREAM });
  for (let i = 0; i < n; ++i) {
    lanes.forEach((lane, l) => {
      const rows = lane.r1 - lane.r0;
      const w = bRows(b, bv, n, c, !!a.transB, mod(lane.dir * i, n), a.axis);
      const last = i === n - 1 && l === lanes.length - 1;
      const after = [...(i > 0 ? [received[l]![i - 1]!] : []), ...(last && own ? [own] : [])];
      ctx.emit(
        'gemm',
        {
          abType,
          cType,
          transA: false,
          transB: !!a.transB,
          m: rows,
          n: nOut,
          k: c,
          batch: 1,
          alpha: 1,
          beta: i === 0 ? 0 : 1,
          a: chunk(lane, i),
          lda: c,
          strideA: 0,
          b: w.view,
          ldb: w.ldb,
          strideB: 0,
          c: at(yv, lane.r0 * nOut * elY, rows * nOut * elY),
          ldc: nOut,
          strideC: 0,
        },
        { after },
      );
    });
  }
}

function lowerScatter(ctx: LowerContext, node: Node, a: RingMatmulAttrs): void {
  const [x, b] = node.inputs as [Value, Value];
  const [z, t] = node.outputs as [Value, Value];
  const n = a.ranks;
  const d = gemmDims('ring_matmul', x.shape, b.shape, !!a.transA, !!a.transB);
  const cols = d.n / n;
  const el = DTYPE_BYTES[x.dtype];
  const elZ = DTYPE_BYTES[z.dtype];
  const xv = ctx.view(x);
  const bv = ctx.view(b);
  const zv = ctx.view(z);
  const tv = ctx.view(t);
  const abType = storageOf('ring_matmul', 'a', x.dtype);
  const cType = storageOf('ring_matmul', 'output', z.dtype);
  const lanes = lanesOf(d.m, a.lanes, 'scatter');
  // The partial of step i lives in z when an even number of steps remain after it, else in t.
  const partial = (lane: Lane, i: number): PlanView => at((n - 1 - i) % 2 === 0 ? zv : tv, lane.r0 * cols * elZ, (lane.r1 - lane.r0) * cols * elZ);
  const aRows = (lane: Lane): PlanView => {
    const rows = lane.r1 - lane.r0;
    // op(a) rows [r0, r1): rows of a, or (transA, a stored [K, M]) its columns.
    return a.transA ? at(xv, lane.r0 * el, ((d.k - 1) * d.lda + rows) * el) : at(xv, lane.r0 * d.lda * el, rows * d.lda * el);
  };
  const gemms: PlanInstruction[][] = lanes.map(() => []);
  const permutes: PlanInstruction[][] = lanes.map(() => []);
  const gemm = (lane: Lane, l: number, i: number) => {
    const rows = lane.r1 - lane.r0;
    const w = bCols(b, bv, n, cols, !!a.transB, mod(lane.dir * (i + 1), n), a.axis);
    gemms[l]!.push(
      ctx.emit(
        'gemm',
        {
          abType,
          cType,
          transA: !!a.transA,
          transB: !!a.transB,
          m: rows,
          n: cols,
          k: d.k,
          batch: 1,
          alpha: 1,
          beta: i === 0 ? 0 : 1,
          a: aRows(lane),
          lda: d.lda,
          strideA: 0,
          b: w.view,
          ldb: w.ldb,
          strideB: 0,
          c: partial(lane, i),
          ldc: cols,
          strideC: 0,
        },
        { after: i > 0 ? [permutes[l]![i - 1]!] : [] },
      ),
    );
  };
  // Step 0 of every lane, then for each step: the lanes' permutes (each right after its own GEMM of
  // the step before) and their GEMMs; one lane's GEMM overlaps the other lane's permute.
  lanes.forEach((lane, l) => gemm(lane, l, 0));
  for (let i = 1; i < n; ++i) {
    lanes.forEach((lane, l) => {
      const rows = lane.r1 - lane.r0;
      permutes[l]!.push(
        ctx.emit('collective_permute', { axis: a.axis, ranks: n, dtype: cType, count: rows * cols, shift: shiftOf(lane, n), x: partial(lane, i - 1), y: partial(lane, i) }, { stream: RING_COMM_STREAM, after: [gemms[l]![i - 1]!] }),
      );
    });
    lanes.forEach((lane, l) => gemm(lane, l, i));
  }
}
