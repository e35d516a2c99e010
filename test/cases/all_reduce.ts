// all_reduce: y = scale * sum over the group of x_j (lib/kernels/all_reduce.ts), y distinct from x
// or x itself (in place). Single device: ranks 1, y = scale * x. Mesh cases: every mesh and axis of
// test/cases/shared/mesh.ts, f32 and bf16, scale 1 and 1/ranks (a mean), distinct and in place,
// against float64 sums of every rank's data (shared/collective-tolerance.ts).
import { EXACT, roundTo, toF32, uniform } from './case-kit';
import type { CaseBuffer, KernelCase, KernelCases, MeshKernelCase } from './case-types';
import { SUM_TOLERANCE } from './shared/collective-tolerance';
import { axisGroup, axisSize, meshAxes, meshName, rankData, type Axis, type Shape } from './shared/mesh';

type Storage = 'f32' | 'bf16';

function single(dtype: Storage, count: number, scale: number, inPlace: boolean, seed: number): KernelCase {
  const data = roundTo(dtype, uniform(count, seed));
  const expect = (x: Float64Array) => x.map((v) => toF32(scale) * v);
  const tolerance = scale === 1 ? EXACT : SUM_TOLERANCE[dtype];
  if (inPlace) {
    return {
      name: `${dtype} ranks 1 count ${count} scale ${scale} in place`,
      dtype,
      layout: 'ranks 1 (no mesh), in place',
      buffers: { x: { dtype, size: count, role: 'inout', data } },
      spec: (b) => ({ axis: 'model', ranks: 1, dtype, count, scale, x: b.x, y: b.x }),
      reference: ({ x }) => ({ x: expect(x!) }),
      tolerance,
    };
  }
  return {
    name: `${dtype} ranks 1 count ${count} scale ${scale}`,
    dtype,
    layout: 'ranks 1 (no mesh)',
    buffers: {
      x: { dtype, size: count, role: 'in', data },
      y: { dtype, size: count, role: 'out' },
    },
    spec: (b) => ({ axis: 'model', ranks: 1, dtype, count, scale, x: b.x, y: b.y }),
    reference: ({ x }) => ({ y: expect(x!) }),
    tolerance,
  };
}

function onMesh(mesh: Shape, axis: Axis, dtype: Storage, count: number, mean: boolean, inPlace: boolean, seed: number): MeshKernelCase {
  const size = mesh.data * mesh.model;
  const ranks = axisSize(mesh, axis);
  const scale = mean ? 1 / ranks : 1;
  const sums = (initial: Record<string, Float64Array>[], r: number) => {
    const y = new Float64Array(count);
    for (const peer of axisGroup(mesh, r, axis).members) for (let i = 0; i < count; i++) y[i] = y[i]! + initial[peer]!.x![i]!;
    return y.map((v) => toF32(scale) * v);
  };
  return {
    name: `${dtype} mesh ${meshName(mesh)} axis ${axis} count ${count}${mean ? ' mean' : ''}${inPlace ? ' in place' : ''}`,
    dtype,
    layout: `mesh axis ${axis}${inPlace ? ', in place' : ''}`,
    mesh,
    buffers: Array.from({ length: size }, (_, r): Record<string, CaseBuffer> =>
      inPlace
        ? { x: { dtype, size: count, role: 'inout' as const, data: rankData(dtype, count, seed, r) } }
        : {
            x: { dtype, size: count, role: 'in' as const, data: rankData(dtype, count, seed, r) },
            y: { dtype, size: count, role: 'out' as const },
          },
    ),
    spec: (b) => ({ axis, ranks, dtype, count, scale, x: b.x, y: inPlace ? b.x : b.y }),
    reference: (initial) => initial.map((_, r): Record<string, ArrayLike<number>> => (inPlace ? { x: sums(initial, r) } : { y: sums(initial, r) })),
    tolerance: SUM_TOLERANCE[dtype],
  };
}

const cases: KernelCase[] = [];
const meshCases: MeshKernelCase[] = [];
let seed = 21;
for (const dtype of ['f32', 'bf16'] as Storage[]) {
  for (const count of [1, 4099]) {
    cases.push(single(dtype, count, 1, false, seed++));
    cases.push(single(dtype, count, 0.3, false, seed++));
    cases.push(single(dtype, count, 0.3, true, seed++));
  }
  for (const { mesh, axis } of meshAxes()) {
    meshCases.push(onMesh(mesh, axis, dtype, 33, false, false, seed++));
    meshCases.push(onMesh(mesh, axis, dtype, 33, true, false, seed++));
    meshCases.push(onMesh(mesh, axis, dtype, 33, false, true, seed++));
  }
}
// Past one block of the reduction (16K elements), in place: the pool's path and the scratch copy.
meshCases.push(onMesh({ data: 2, model: 2 }, 'data', 'f32', 20011, true, true, seed++));

const allReduce: KernelCases = { kernel: 'all_reduce', cases, meshCases };
export default allReduce;
