// axis_slice: run i copies cols elements from x + i xStride + axisRank cols to y + i yStride
// (lib/kernels/axis_slice.ts). Single device: ranks 1 (axis rank 0), contiguous and strided, f32,
// bf16 and i32, y's gaps keeping their values. Mesh cases: every mesh and axis of
// test/cases/shared/mesh.ts; each rank must take its own block. Data movement: exact.
import { EXACT, integers, uniform } from './case-kit';
import type { CaseDType, KernelCase, KernelCases, MeshKernelCase } from './case-types';
import { axisGroup, axisSize, meshAxes, meshName, type Axis, type Shape } from './shared/mesh';

function span(batch: number, stride: number, cols: number): number {
  return batch === 0 || cols === 0 ? 0 : (batch - 1) * stride + cols;
}

function valuesOf(dtype: CaseDType, n: number, seed: number): Float64Array {
  return dtype === 'i32' ? integers(n, seed, -1e9, 1e9) : uniform(n, seed, -50, 50);
}

function expected(x: Float64Array, y: Float64Array, axisRank: number, batch: number, cols: number, xStride: number, yStride: number): Float64Array {
  const out = Float64Array.from(y);
  for (let i = 0; i < batch; i++) for (let c = 0; c < cols; c++) out[i * yStride + c] = x[i * xStride + axisRank * cols + c]!;
  return out;
}

// [batch, cols, xStride (0: dense, ranks * cols), yStride]
const SHAPES: [number, number, number, number][] = [
  [1, 5, 0, 5],
  [6, 3, 0, 3],
  [7, 4, 0, 9],
  [5, 3, 2, 3], // x strided with overlapping runs (xStride < ranks * cols): a read-only broadcast
];

function single(dtype: CaseDType, [batch, cols, xs, yStride]: (typeof SHAPES)[number], seed: number): KernelCase {
  const xStride = xs === 0 ? cols : xs;
  const xLen = span(batch, xStride, cols) + 2;
  const yLen = span(batch, yStride, cols) + 1;
  return {
    name: `${dtype} ranks 1 batch ${batch} cols ${cols} strides ${xStride}/${yStride}`,
    dtype,
    layout: yStride === cols ? 'ranks 1 (no mesh)' : 'ranks 1 (no mesh), y strided',
    buffers: {
      x: { dtype, size: xLen, role: 'in', data: valuesOf(dtype, xLen, seed) },
      y: { dtype, size: yLen, role: 'inout', data: valuesOf(dtype, yLen, seed + 1) },
    },
    spec: (b) => ({ axis: 'model', ranks: 1, dtype, batch, cols, xStride, yStride, x: b.x, y: b.y }),
    reference: ({ x, y }) => ({ y: expected(x!, y!, 0, batch, cols, xStride, yStride) }),
    tolerance: EXACT,
    gpuTolerance: EXACT,
  };
}

function onMesh(mesh: Shape, axis: Axis, dtype: CaseDType, [batch, cols, xs, yStride]: (typeof SHAPES)[number], seed: number): MeshKernelCase {
  const size = mesh.data * mesh.model;
  const ranks = axisSize(mesh, axis);
  const xStride = xs === 0 ? ranks * cols : xs * ranks;
  const xLen = span(batch, xStride, ranks * cols) + 2;
  const yLen = span(batch, yStride, cols) + 1;
  return {
    name: `${dtype} mesh ${meshName(mesh)} axis ${axis} batch ${batch} cols ${cols} strides ${xStride}/${yStride}`,
    dtype,
    layout: `mesh axis ${axis}`,
    mesh,
    buffers: Array.from({ length: size }, (_, r) => ({
      x: { dtype, size: xLen, role: 'in' as const, data: valuesOf(dtype, xLen, seed * 31 + r) },
      y: { dtype, size: yLen, role: 'inout' as const, data: valuesOf(dtype, yLen, seed * 37 + r) },
    })),
    spec: (b) => ({ axis, ranks, dtype, batch, cols, xStride, yStride, x: b.x, y: b.y }),
    reference: (initial) =>
      initial.map(({ x, y }, r) => ({ y: expected(x!, y!, axisGroup(mesh, r, axis).axisRank, batch, cols, xStride, yStride) })),
    tolerance: EXACT,
  };
}

const cases: KernelCase[] = [];
const meshCases: MeshKernelCase[] = [];
let seed = 61;
for (const dtype of ['f32', 'bf16', 'i32'] as CaseDType[]) {
  for (const shape of SHAPES) cases.push(single(dtype, shape, (seed += 2)));
  for (const { mesh, axis } of meshAxes()) meshCases.push(onMesh(mesh, axis, dtype, SHAPES[2]!, (seed += 2)));
}

const axisSlice: KernelCases = { kernel: 'axis_slice', cases, meshCases };
export default axisSlice;
