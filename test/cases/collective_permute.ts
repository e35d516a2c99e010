// collective_permute: axis rank r receives into y the x of axis rank (r - shift) mod ranks
// (lib/kernels/collective_permute.ts). Single device: ranks 1, a copy. Mesh cases: every mesh and
// axis of test/cases/shared/mesh.ts, every shift of 1 .. ranks-1, f32 and bf16. Exact.
import { EXACT } from './case-kit';
import type { KernelCase, KernelCases, MeshKernelCase } from './case-types';
import { axisGroup, axisSize, meshAxes, meshName, rankData, singleRankCopy, type Axis, type Shape } from './shared/mesh';

type Storage = 'f32' | 'bf16';

function onMesh(mesh: Shape, axis: Axis, dtype: Storage, count: number, shift: number, seed: number): MeshKernelCase {
  const size = mesh.data * mesh.model;
  const ranks = axisSize(mesh, axis);
  return {
    name: `${dtype} mesh ${meshName(mesh)} axis ${axis} count ${count} shift ${shift}`,
    dtype,
    layout: `mesh axis ${axis}`,
    mesh,
    buffers: Array.from({ length: size }, (_, r) => ({
      x: { dtype, size: count, role: 'in' as const, data: rankData(dtype, count, seed, r) },
      y: { dtype, size: count, role: 'out' as const },
    })),
    spec: (b) => ({ axis, ranks, dtype, count, shift, x: b.x, y: b.y }),
    reference: (initial) =>
      initial.map((_, r) => {
        const { members, axisRank } = axisGroup(mesh, r, axis);
        const from = members[(axisRank - shift + ranks * 8) % ranks]!;
        return { y: Float64Array.from(initial[from]!.x!) };
      }),
    tolerance: EXACT,
  };
}

const cases: KernelCase[] = [];
const meshCases: MeshKernelCase[] = [];
let seed = 41;
for (const dtype of ['f32', 'bf16'] as Storage[]) {
  for (const count of [1, 7, 4099]) cases.push(singleRankCopy(dtype, count, seed++, 'model', { shift: 1 }));
  for (const { mesh, axis } of meshAxes()) {
    const ranks = axisSize(mesh, axis);
    const shifts = ranks === 1 ? [1] : Array.from({ length: ranks - 1 }, (_, i) => i + 1);
    for (const shift of shifts) meshCases.push(onMesh(mesh, axis, dtype, 31, shift, seed++));
  }
}

const collectivePermute: KernelCases = { kernel: 'collective_permute', cases, meshCases };
export default collectivePermute;
