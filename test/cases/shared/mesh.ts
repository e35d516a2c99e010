/**
 * What the collective kernels' case files share: the mesh geometry of lib/runtime/mesh.ts written
 * again independently (rank r = d * model + m; the model group of r holds the ranks with its d, in
 * order of m; the data group the ranks with its m, in order of d), the meshes and axes the cases
 * cover, and random per-rank data.
 */
import { EXACT, roundTo, uniform } from '../case-kit';
import type { KernelCase } from '../case-types';

export type Axis = 'data' | 'model';
export interface Shape {
  data: number;
  model: number;
}

/** The meshes every collective is checked on. */
export const MESHES: Shape[] = [
  { data: 1, model: 2 },
  { data: 2, model: 1 },
  { data: 2, model: 2 },
  { data: 1, model: 4 },
];

/** Devices on `axis`. */
export function axisSize(mesh: Shape, axis: Axis): number {
  return axis === 'data' ? mesh.data : mesh.model;
}

/** The ranks of `rank`'s group on `axis`, in axis rank order, and `rank`'s place among them. */
export function axisGroup(mesh: Shape, rank: number, axis: Axis): { members: number[]; axisRank: number } {
  const d = Math.floor(rank / mesh.model);
  const m = rank % mesh.model;
  if (axis === 'model') return { members: Array.from({ length: mesh.model }, (_, j) => d * mesh.model + j), axisRank: m };
  return { members: Array.from({ length: mesh.data }, (_, j) => j * mesh.model + m), axisRank: d };
}

/** (mesh, axis) pairs to cover: every axis with more than one device, and one axis of one device. */
export function meshAxes(): { mesh: Shape; axis: Axis }[] {
  const out: { mesh: Shape; axis: Axis }[] = [];
  for (const mesh of MESHES) for (const axis of ['data', 'model'] as Axis[]) if (axisSize(mesh, axis) > 1) out.push({ mesh, axis });
  // An axis of one device inside a mesh: the collective is a copy there.
  out.push({ mesh: { data: 2, model: 1 }, axis: 'model' });
  return out;
}

/** Random values for rank `rank` (never zeros), rounded to the storage type. */
export function rankData(dtype: 'f32' | 'bf16', n: number, seed: number, rank: number): Float64Array {
  return roundTo(dtype, uniform(n, seed * 131 + rank * 7919 + 1));
}

export function meshName(mesh: Shape): string {
  return `${mesh.data}x${mesh.model}`;
}

/**
 * A collective launched on one device with ranks 1 (no mesh): a copy of x into y, exactly. `extra`
 * adds the kernel's own fields (collective_permute's shift).
 */
export function singleRankCopy(dtype: 'f32' | 'bf16', count: number, seed: number, axis: Axis, extra: Record<string, unknown> = {}): KernelCase {
  return {
    name: `${dtype} ranks 1 count ${count}`,
    dtype,
    layout: 'ranks 1 (no mesh)',
    buffers: {
      x: { dtype, size: count, role: 'in', data: roundTo(dtype, uniform(count, seed)) },
      y: { dtype, size: count, role: 'out' },
    },
    spec: (b) => ({ axis, ranks: 1, dtype, count, ...extra, x: b.x, y: b.y }),
    reference: ({ x }) => ({ y: Float64Array.from(x!) }),
    tolerance: EXACT,
    gpuTolerance: EXACT,
  };
}
