/**
 * The gradient rules of the linear collectives are their adjoints, checked on real meshes:
 * for all_gather (gradient: reduce_scatter) and collective_permute by s (gradient: permute by
 * ranks - s), sum over ranks of <op(x)_r, y_r> equals sum over ranks of <x_r, grad(y)_r> for random
 * x and y, computed in float64 on the host from the devices' f32 results (rel 1e-5). This is the
 * identity reverse-mode differentiation rests on; the model-level finite-difference checks
 * (mesh-gradients.test.ts) cover all_reduce, pvary and axis_slice through the partitioning pass.
 */
import { Graph, type Value } from '../../lib/graph/ir';
import { getOp } from '../../lib/graph/op-table';
import { createMesh, type Mesh } from '../../lib/runtime/mesh';
import type { DeviceTensor } from '../../lib/runtime/tensor';
import { mulberry32 } from '../helpers/prng';

const MESHES = [
  { data: 1, model: 2, axis: 'model' as const },
  { data: 2, model: 2, axis: 'model' as const },
  { data: 2, model: 2, axis: 'data' as const },
  { data: 1, model: 4, axis: 'model' as const },
];

function randomTensors(mesh: Mesh, n: number, seed: number): { t: DeviceTensor[]; host: Float32Array[] } {
  const rng = mulberry32(seed);
  const host = mesh.devices.map(() => Float32Array.from({ length: n }, () => rng() * 2 - 1));
  return { t: mesh.devices.map((d, r) => d.tensor('f32', [n], host[r]!)), host };
}

function dot(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  let s = 0;
  a.forEach((x, r) => x.forEach((v, i) => (s += v * b[r]![i]!)));
  return s;
}

function expectAdjoint(lhs: number, rhs: number): void {
  expect(Math.abs(lhs - rhs)).toBeLessThanOrEqual(1e-5 * Math.max(Math.abs(lhs), Math.abs(rhs)) + 1e-6);
  expect(Math.abs(lhs)).toBeGreaterThan(1e-3);
}

describe.each(MESHES)('mesh $data x $model over $axis', ({ data, model, axis }) => {
  let mesh: Mesh;
  beforeAll(() => {
    mesh = createMesh({ data, model }, { threadsPerDevice: 1 });
  });
  afterAll(() => mesh.dispose());
  const ranks = axis === 'data' ? data : model;

  test('all_gather and reduce_scatter are adjoint', () => {
    const n = 6;
    const x = randomTensors(mesh, n, 1);
    const y = randomTensors(mesh, n * ranks, 2);
    const ag = mesh.devices.map((d) => d.alloc('f32', [n * ranks]));
    const rs = mesh.devices.map((d) => d.alloc('f32', [n]));
    mesh.launch('all_gather', mesh.devices.map((_d, r) => ({ axis, ranks, dtype: 'f32' as const, count: n, x: x.t[r]!.buffer, y: ag[r]!.buffer })));
    mesh.launch('reduce_scatter', mesh.devices.map((_d, r) => ({ axis, ranks, dtype: 'f32' as const, count: n, x: y.t[r]!.buffer, y: rs[r]!.buffer })));
    expectAdjoint(dot(ag.map((t) => t.download() as Float32Array), y.host), dot(x.host, rs.map((t) => t.download() as Float32Array)));
    for (const t of [...x.t, ...y.t, ...ag, ...rs]) t.dispose();
  });

  test('collective_permute by s and by ranks - s are adjoint', () => {
    if (ranks < 2) return;
    const n = 5;
    for (let shift = 1; shift < ranks; ++shift) {
      const x = randomTensors(mesh, n, 10 + shift);
      const y = randomTensors(mesh, n, 20 + shift);
      const px = mesh.devices.map((d) => d.alloc('f32', [n]));
      const py = mesh.devices.map((d) => d.alloc('f32', [n]));
      mesh.launch('collective_permute', mesh.devices.map((_d, r) => ({ axis, ranks, dtype: 'f32' as const, count: n, shift, x: x.t[r]!.buffer, y: px[r]!.buffer })));
      mesh.launch('collective_permute', mesh.devices.map((_d, r) => ({ axis, ranks, dtype: 'f32' as const, count: n, shift: ranks - shift, x: y.t[r]!.buffer, y: py[r]!.buffer })));
      expectAdjoint(dot(px.map((t) => t.download() as Float32Array), y.host), dot(x.host, py.map((t) => t.download() as Float32Array)));
      for (const t of [...x.t, ...y.t, ...px, ...py]) t.dispose();
    }
  });
});

test('each collective op differentiates into its adjoint (the op the kernel pairs above check)', () => {
  const g = new Graph();
  const x = g.apply('input', [], { name: 'x', shape: [4, 3], dtype: 'f32' });
  const gradOf = (op: string, input: Value, attrs: Record<string, unknown>) => {
    const node = g.add(op, [input], attrs);
    const dy = g.apply('input', [], { name: `dy${node.id}`, shape: node.outputs[0]!.shape, dtype: 'f32' });
    const [dx] = getOp(op).grad!({ g, node, dy: [dy], needs: [true], constant: () => undefined });
    return dx!.node;
  };
  const ag = gradOf('all_gather', x, { axis: 'model', ranks: 2 });
  expect([ag.op, ag.attrs]).toEqual(['reduce_scatter', { axis: 'model', ranks: 2 }]);
  const stacked = g.apply('reshape', [x], { shape: [2, 2, 3] });
  const rs = gradOf('reduce_scatter', stacked, { axis: 'data', ranks: 2 });
  expect([rs.op, rs.attrs]).toEqual(['all_gather', { axis: 'data', ranks: 2 }]);
  const cp = gradOf('collective_permute', x, { axis: 'model', ranks: 4, shift: 1 });
  expect([cp.op, cp.attrs]).toEqual(['collective_permute', { axis: 'model', ranks: 4, shift: 3 }]);
  const pv = gradOf('pvary', x, { axis: 'data', ranks: 4 });
  expect([pv.op, pv.attrs]).toEqual(['all_reduce', { axis: 'data', ranks: 4 }]);
  // all_reduce's output is the same on every rank: its gradient is the seed times its scale.
  const ar = gradOf('all_reduce', x, { axis: 'model', ranks: 2, scale: 0.5 });
  expect([ar.op, ar.attrs]).toEqual(['scale', { factor: 0.5 }]);
});
