// reduce_scatter: on axis rank r, y = sum over the group of x_j[r * count, (r + 1) * count)
// (lib/kernels/reduce_scatter.ts). Single device: ranks 1, a copy (a sum of one term). Mesh cases:
// every mesh and axis of test/cases/shared/mesh.ts, f32 and bf16, against float64 sums of every
// rank's data (shared/collective-tolerance.ts).
import type { KernelCase, KernelCases, MeshKernelCase } from './case-types';
import { SUM_TOLERANCE } from './shared/collective-tolerance';
import { axisGroup, axisSize, meshAxes, meshName, rankData, singleRankCopy, type Axis, type Shape } from './shared/mesh';

type Storage = 'f32' | 'bf16';

function onMesh(mesh: Shape, axis: Axis, dtype: Storage, count: number, seed: number): MeshKernelCase {
  const size = mesh.data * mesh.model;
  const ranks = axisSize(mesh, axis);
  return {
    name: `${dtype} mesh ${meshName(mesh)} axis ${axis} count ${count}`,
    dtype,
    layout: `mesh axis ${axis}`,
    mesh,
    buffers: Array.from({ length: size }, (_, r) => ({
      x: { dtype, size: count * ranks, role: 'in' as const, data: rankData(dtype, count * ranks, seed, r) },
      y: { dtype, size: count, role: 'out' as const },
    })),
    spec: (b) => ({ axis, ranks, dtype, count, x: b.x, y: b.y }),
    reference: (initial) =>
      initial.map((_, r) => {
        const { members, axisRank } = axisGroup(mesh, r, axis);
        const y = new Float64Array(count);
        for (const peer of members) for (let i = 0; i < count; i++) y[i] = y[i]! + initial[peer]!.x![axisRank * count + i]!;
        return { y };
      }),
    tolerance: SUM_TOLERANCE[dtype],
  };
}

const cases: KernelCase[] = [];
const meshCases: MeshKernelCase[] = [];
let seed = 11;
for (const dtype of ['f32', 'bf16'] as Storage[]) {
  for (const count of [1, 13, 4099]) cases.push(singleRankCopy(dtype, count, seed++, 'data'));
  for (const { mesh, axis } of meshAxes()) {
    for (const count of [1, 29]) meshCases.push(onMesh(mesh, axis, dtype, count, seed++));
  }
}
// Past one block of the reduction (16K elements): the device pool's path.
meshCases.push(onMesh({ data: 1, model: 4 }, 'model', 'bf16', 17000, seed++));

const reduceScatter: KernelCases = { kernel: 'reduce_scatter', cases, meshCases };
export default reduceScatter;
