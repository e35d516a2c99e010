/**
 * Meshes and shardings: which slice of a global tensor each device of a `data` x `model` mesh holds.
 *
 * A mesh of t x k devices has rank r = d * k + m at coordinates (data d, model m). A tensor keeps its
 * global name and shape; its sharding says, per dimension, whether a mesh axis splits it. A split may
 * be *segmented*: the fused ViT-22B weight `in/w` [D, 3D + F] has column segments [D, D, D, F] (q, k,
 * v, MLP), each cut k ways, so model rank m holds the m-th k-th of every segment (its heads of q, k
 * and v and its MLP columns), not a contiguous block that would give rank 0 all of q. Checkpoints,
 * timm names and `vit22b plan` speak global tensors; only devices see slices.
 */
import { Vit22bError } from '../runtime/errors';
import { checkMeshShape, coordinatesOf, type MeshCoordinates, type MeshShape } from '../runtime/mesh';

export type MeshAxis = 'data' | 'model';
export const MESH_AXES: readonly MeshAxis[] = ['data', 'model'];

/** Sizes of the mesh axes (t x k): the runtime's mesh shape. */
export type { MeshShape };

/** One split dimension: the axis that cuts it, and the global sizes of its segments (default: one). */
export interface DimSplit {
  axis: MeshAxis;
  segments?: readonly number[];
}

/** Per dimension, its split or null (every device holds the whole dimension). */
export type DimLayout = DimSplit | null;

/** How a parameter spec or a leaf says it is split: an axis name is a plain (one-segment) split. */
export type ShardingSpec = readonly (MeshAxis | DimSplit | null)[];

/** Where a device sits on the mesh. */
export type { MeshCoordinates };

/** A mesh shape checked (the runtime's one check: lib/runtime/mesh.ts). */
export const checkMesh: (mesh: unknown) => MeshShape = checkMeshShape;

export function meshSize(mesh: MeshShape): number {
  return mesh.data * mesh.model;
}

export { coordinatesOf };

export function meshText(mesh: MeshShape): string {
  return `data=${mesh.data},model=${mesh.model}`;
}

/** A ShardingSpec as DimLayouts (axis names become one-segment splits). */
export function normalizeSharding(spec: ShardingSpec | undefined, rank: number): DimLayout[] {
  if (spec === undefined) return new Array<DimLayout>(rank).fill(null);
  return spec.map((s) => (s === null ? null : typeof s === 'string' ? { axis: s } : s));
}

/** The global sizes of a split's segments (one segment: the whole dimension). */
export function segmentsOf(split: DimSplit, globalSize: number): readonly number[] {
  return split.segments ?? [globalSize];
}

/**
 * The local shape of a global shape under `dims`, or a typed error naming the dimension that the
 * axis does not divide (ERR_INVALID_CONFIG: `what` names the tensor).
 */
export function localShape(what: string, shape: readonly number[], dims: readonly DimLayout[], mesh: MeshShape): number[] {
  return shape.map((d, i) => {
    const split = dims[i];
    if (!split) return d;
    const n = mesh[split.axis];
    const segments = segmentsOf(split, d);
    const total = segments.reduce((a, b) => a + b, 0);
    if (total !== d) {
      throw new Vit22bError('ERR_INVALID_CONFIG', `${what}: the segments of dimension ${i} do not add up to its size`, {
        expected: `${d}`,
        received: `${segments.join(' + ')} = ${total}`,
      });
    }
    for (const s of segments) {
      if (s % n !== 0) {
        throw new Vit22bError('ERR_INVALID_CONFIG', `${what}: dimension ${i} (${segments.length > 1 ? `segment ${s} of ${d}` : d}) is not divisible by ${split.axis}=${n}`, {
          expected: `a multiple of ${n}`,
          received: `${s}`,
        });
      }
    }
    return d / n;
  });
}

/** For one dimension, the global index ranges [start, length] that axis rank `j` holds, in local order. */
export function localRuns(globalSize: number, split: DimLayout, mesh: MeshShape, j: number): [number, number][] {
  if (!split) return [[0, globalSize]];
  const n = mesh[split.axis];
  const runs: [number, number][] = [];
  let offset = 0;
  for (const s of segmentsOf(split, globalSize)) {
    const len = s / n;
    runs.push([offset + j * len, len]);
    offset += s;
  }
  return runs;
}

/** The axis rank of coordinates on `axis`. */
export function axisRank(c: MeshCoordinates, axis: MeshAxis): number {
  return axis === 'data' ? c.data : c.model;
}

type Typed = Float32Array | Uint16Array | Int32Array | Uint8Array;

/** A box of a global tensor: its start and extent per dimension. */
export interface Box {
  offsets: number[];
  sizes: number[];
}

/**
 * The boxes of a global tensor that the device at `c` holds (one per combination of its runs:
 * several for a segmented split), each with where it starts in the device's local array.
 */
export function rankBoxes(shape: readonly number[], dims: readonly DimLayout[], mesh: MeshShape, c: MeshCoordinates): { box: Box; localStart: number[] }[] {
  let boxes: { box: Box; localStart: number[] }[] = [{ box: { offsets: [], sizes: [] }, localStart: [] }];
  shape.forEach((size, d) => {
    const split = dims[d] ?? null;
    let local = 0;
    const runs = localRuns(size, split, mesh, split ? axisRank(c, split.axis) : 0).map(([start, len]) => {
      const run = { start, len, local };
      local += len;
      return run;
    });
    boxes = boxes.flatMap((b) =>
      runs.map((r) => ({ box: { offsets: [...b.box.offsets, r.start], sizes: [...b.box.sizes, r.len] }, localStart: [...b.localStart, r.local] })),
    );
  });
  return boxes;
}

/**
 * Copies the region of `sizes` starting at `srcStart` of the row-major array src (shape srcShape) to
 * `dstStart` of dst (shape dstShape), a contiguous run of the last dimension at a time.
 */
export function copyRegion(src: Typed, srcShape: readonly number[], srcStart: readonly number[], dst: Typed, dstShape: readonly number[], dstStart: readonly number[], sizes: readonly number[]): void {
  const rank = sizes.length;
  if (rank === 0) {
    dst[0] = src[0]!;
    return;
  }
  const strides = (shape: readonly number[]) => {
    const s = new Array<number>(shape.length).fill(1);
    for (let i = shape.length - 2; i >= 0; --i) s[i] = s[i + 1]! * shape[i + 1]!;
    return s;
  };
  const ss = strides(srcShape);
  const ds = strides(dstShape);
  const run = sizes[rank - 1]!;
  const walk = (d: number, so: number, dof: number) => {
    if (d === rank - 1) {
      dst.set(src.subarray(so + srcStart[d]!, so + srcStart[d]! + run) as never, dof + dstStart[d]!);
      return;
    }
    for (let i = 0; i < sizes[d]!; ++i) walk(d + 1, so + (srcStart[d]! + i) * ss[d]!, dof + (dstStart[d]! + i) * ds[d]!);
  };
  walk(0, 0, 0);
}

/** One device's slice of a global host tensor. */
export function sliceForDevice<T extends Typed>(global: T, shape: readonly number[], dims: readonly DimLayout[], mesh: MeshShape, c: MeshCoordinates): T {
  const local = localShape('tensor', shape, dims, mesh);
  const out = new (global.constructor as new (n: number) => T)(local.reduce((a, b) => a * b, 1));
  for (const { box, localStart } of rankBoxes(shape, dims, mesh, c)) copyRegion(global, shape, box.offsets, out, local, localStart, box.sizes);
  return out;
}

/** Writes one device's slice back into a global host tensor. */
export function placeFromDevice(global: Typed, local: Typed, shape: readonly number[], dims: readonly DimLayout[], mesh: MeshShape, c: MeshCoordinates): void {
  const localDims = localShape('tensor', shape, dims, mesh);
  for (const { box, localStart } of rankBoxes(shape, dims, mesh, c)) copyRegion(local, localDims, localStart, global, shape, box.offsets, box.sizes);
}

/** Whether any dimension is split over `axis`. */
export function splitOver(dims: readonly DimLayout[], axis: MeshAxis): boolean {
  return dims.some((d) => d?.axis === axis);
}

/**
 * The shape of one data shard of input `name` (global `shape`, split by `dims`, over a data axis of
 * `dataSize`): what a process over MPI or NCCL feeds Program.run({ shard: true }). The input must be
 * split over data on its first dimension and nowhere else, as the partitioner splits a batch
 * (ERR_INVALID_ARGUMENT otherwise).
 */
export function dataShardShape(name: string, shape: readonly number[], dims: readonly DimLayout[] | undefined, dataSize: number): number[] {
  const batchOnly = !dims || ((dims[0] === null || dims[0]?.axis === 'data') && dims.slice(1).every((d) => d === null));
  const ok = batchOnly && (dataSize === 1 || dims?.[0]?.axis === 'data');
  if (!ok || shape[0]! % dataSize !== 0) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `input '${name}' is not split over data by its first dimension alone, so it has no data shard to feed (run it without shard: true)`, {
      expected: `[B, ...] split over data (${dataSize}) on B`,
      received: `[${shape.join(', ')}] split ${JSON.stringify(dims ?? [])}`,
    });
  }
  return [shape[0]! / dataSize, ...shape.slice(1)];
}
