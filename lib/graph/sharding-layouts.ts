/**
 * Moving a sharded dimension with the contiguous collectives: the collectives gather and scatter
 * whole blocks along a new leading axis (the shape NCCL and MPI implement), and these helpers add
 * the slices, reshapes and concatenations that turn that into a gather or a reduce-scatter along
 * any dimension, segments included. The windows pass turns most of those pieces into views.
 *
 * Used by the partitioning pass (passes/partition.ts) and by gradient rules (axis_slice's).
 */
import type { Graph, Value } from './ir';
import type { MeshAxis } from './sharding';

/**
 * The whole dimension `dim` of a value every rank of `axis` holds one block of (segments of global
 * sizes `segments`, each cut `ranks` ways): all_gather, then each rank's piece of each segment put
 * back in its global place.
 */
export function gatherDim(g: Graph, x: Value, dim: number, axis: MeshAxis, ranks: number, segments: readonly number[]): Value {
  const gathered = g.apply('all_gather', [x], { axis, ranks }); // [ranks, ...x.shape]
  const shape = x.shape;
  const full = [...shape];
  full[dim] = shape[dim]! * ranks;
  // A leading split of one segment is already in order: [ranks, n/ranks, ...] is [n, ...].
  if (dim === 0 && segments.length === 1) return g.apply('reshape', [gathered], { shape: full });
  const block = (j: number) => g.apply('reshape', [g.apply('slice', [gathered], { axis: 0, begin: j, end: j + 1 })], { shape });
  const blocks = Array.from({ length: ranks }, (_, j) => block(j));
  const pieces: Value[] = [];
  let local = 0;
  for (const s of segments) {
    const len = s / ranks;
    for (let j = 0; j < ranks; ++j) {
      const b = blocks[j]!;
      pieces.push(len === shape[dim] ? b : g.apply('slice', [b], { axis: dim, begin: local, end: local + len }));
    }
    local += len;
  }
  return g.apply('concat', pieces, { axis: dim });
}

/**
 * Each rank's block of the sum over `axis` of a partial value x (the row-parallel matmul's output):
 * the blocks of dimension `dim` stacked on a new leading axis, then reduce_scatter. The result is
 * split over `axis` on `dim` in one segment.
 */
export function reduceScatterDim(g: Graph, x: Value, dim: number, axis: MeshAxis, ranks: number): Value {
  const shape = x.shape;
  const local = [...shape];
  local[dim] = shape[dim]! / ranks;
  let stacked: Value;
  if (dim === 0) {
    stacked = g.apply('reshape', [x], { shape: [ranks, ...local] });
  } else {
    const pieces = Array.from({ length: ranks }, (_, j) =>
      g.apply('reshape', [g.apply('slice', [x], { axis: dim, begin: j * local[dim]!, end: (j + 1) * local[dim]! })], { shape: [1, ...local] }),
    );
    stacked = g.apply('concat', pieces, { axis: 0 });
  }
  return g.apply('reduce_scatter', [stacked], { axis, ranks });
}
