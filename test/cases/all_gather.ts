// all_gather: every rank's x lands at y + j * count for axis rank j (lib/kernels/all_gather.ts).
// Single device: ranks 1, a copy. Mesh cases: every mesh and axis of test/cases/shared/mesh.ts,
// f32 and bf16, checked against the concatenation of every rank's data. Data movement: exact.
import { EXACT } from './case-kit';
import type { KernelCase, KernelCases, MeshKernelCase } from './case-types';
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
      x: { dtype, size: count, role: 'in' as const, data: rankData(dtype, count, seed, r) },
      y: { dtype, size: count * ranks, role: 'out' as const },
    })),
    spec: (b) => ({ axis, ranks, dtype, count, x: b.x, y: b.y }),
    reference: (initial) =>
      initial.map((_, r) => {
        const y = new Float64Array(count * ranks);
        axisGroup(mesh, r, axis).members.forEach((peer, j) => y.set(initial[peer]!.x!, j * count));
        return { y };
      }),
    tolerance: EXACT,
  };
}

const cases: KernelCase[] = [];
const meshCases: MeshKernelCase[] = [];
let seed = 1;
for (const dtype of ['f32', 'bf16'] as Storage[]) {
  for (const count of [1, 7, 4099]) cases.push(singleRankCopy(dtype, count, seed++, 'model'));
  for (const { mesh, axis } of meshAxes()) {
    for (const count of [1, 37]) meshCases.push(onMesh(mesh, axis, dtype, count, seed++));
  }
}
// Past one block of the communicator's copies (16K elements): the device pool's path.
meshCases.push(onMesh({ data: 2, model: 2 }, 'model', 'f32', 20011, seed++));

const allGather: KernelCases = { kernel: 'all_gather', cases, meshCases };
export default allGather;
