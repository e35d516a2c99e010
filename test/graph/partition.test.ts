/**
 * The partitioning pass and the sharding arithmetic, without running anything: local shapes of the
 * segmented fused weights, which collectives a sharded step contains, per-device memory, the slicing
 * of global tensors (checked against a naive per-element definition), reshape layouts, and the typed
 * errors for meshes that do not fit.
 */
import { GraphBuilder } from '../../lib/graph/builder';
import { compileGraph } from '../../lib/graph/compile';
import { mapReshapeDims } from '../../lib/graph/passes/partition';
import { checkMesh, dataShardShape, localRuns, placeFromDevice, sliceForDevice, coordinatesOf, type DimLayout, type MeshShape } from '../../lib/graph/sharding';
import { getPreset, buildVit } from '../../lib/model';
import { checkMeshFits } from '../../lib/model/mesh-fit';
import { expectVitError } from '../helpers/errors';

const recipe = getPreset('tiny', { imageSize: 8, patchSize: 4, channels: 3, width: 32, depth: 2, heads: 4, mlpDim: 64, numClasses: 5 });

function compiled(mesh: MeshShape, batch = 8) {
  const b = new GraphBuilder({ precision: 'fp32' });
  buildVit(b, recipe, { batch });
  return compileGraph(b.graph, { train: { loss: 'loss', optimizer: { kind: 'adamw' } }, mesh });
}

test('the fused projections are split in segments, and per-device weights fall by k', () => {
  const one = compiled({ data: 1, model: 1 });
  const four = compiled({ data: 1, model: 4 });
  const shapeOf = (c: ReturnType<typeof compiled>, name: string) => c.memory.persistent.find((p) => p.name === name)!;
  const inW = shapeOf(four, 'block0/in/w');
  expect(inW.type.shape).toEqual([32, (3 * 32 + 64) / 4]);
  expect(inW.layout).toEqual({ shape: [32, 160], dims: [null, { axis: 'model', segments: [32, 32, 32, 64] }] });
  expect(shapeOf(four, 'block0/out/w').type.shape).toEqual([(32 + 64) / 4, 32]);
  // Norm scales and the head stay whole on every device.
  expect(shapeOf(four, 'block0/norm/scale').type.shape).toEqual([32]);
  expect(shapeOf(four, 'head/w').type.shape).toEqual([32, 5]);
  // Optimizer state and gradients follow their parameter's slice.
  expect(shapeOf(four, 'adamw/m/block0/in/w').type.shape).toEqual([32, 40]);
  expect(shapeOf(four, 'grad/block0/in/w').type.shape).toEqual([32, 40]);
  const blockBytes = (c: ReturnType<typeof compiled>) =>
    c.memory.persistent.filter((p) => p.kind === 'param' && /^block\d+\/(in|out)\/w$/.test(p.name)).reduce((s, p) => s + p.type.shape.reduce((a, b) => a * b, 4), 0);
  expect(blockBytes(four)).toBe(blockBytes(one) / 4);
});

test('a data x model step has the layout collectives of SHARDING.md and nothing on a 1x1 mesh', () => {
  const kinds = (mesh: MeshShape) => {
    const c = compiled(mesh);
    const seen = new Set<string>();
    for (const ins of c.lowered.plan.streams[0]!) if (/all_|reduce_scatter|axis_slice/.test(ins.kernel)) seen.add(`${ins.kernel}/${ins.spec.axis as string}`);
    return [...seen].sort();
  };
  expect(kinds({ data: 1, model: 1 })).toEqual([]);
  // Data only: gradient all-reduces, the loss mean.
  expect(kinds({ data: 2, model: 1 })).toEqual(['all_reduce/data']);
  // Model: gathers before the projections, reduce-scatters after, the residual's first slice.
  expect(kinds({ data: 2, model: 2 })).toEqual(['all_gather/model', 'all_reduce/data', 'all_reduce/model', 'axis_slice/model', 'reduce_scatter/model']);
});

test('inputs are split on the batch over data; the batch must divide', () => {
  expect(compiled({ data: 4, model: 1 }).lowered.inputs.find((i) => i.name === 'images')!.value.shape).toEqual([2, 8, 8, 3]);
  expectVitError(() => compiled({ data: 3, model: 1 }, 8), 'ERR_INVALID_CONFIG', /batch 8 is not divisible by data=3/);
  expectVitError(() => compiled({ data: 16, model: 1 }, 8), 'ERR_INVALID_CONFIG', /batch 8 is smaller than the mesh's data=16/);
});

test('dataShardShape: a batch-split input\'s shard is B/t rows; anything else split, or a batch that does not divide, is refused', () => {
  expect(dataShardShape('images', [8, 4, 4, 3], [{ axis: 'data' }, null, null, null], 2)).toEqual([4, 4, 4, 3]);
  expect(dataShardShape('labels', [8], [{ axis: 'data' }], 4)).toEqual([2]);
  expect(dataShardShape('labels', [8], undefined, 1)).toEqual([8]); // a data axis of one: the whole batch
  expectVitError(() => dataShardShape('images', [8, 4], [null, { axis: 'data' }], 2), 'ERR_INVALID_ARGUMENT', /input 'images' is not split over data by its first dimension alone/);
  expectVitError(() => dataShardShape('x', [8, 4], [{ axis: 'data' }, { axis: 'model' }], 2), 'ERR_INVALID_ARGUMENT', /input 'x' is not split/);
  expectVitError(() => dataShardShape('x', [8], undefined, 2), 'ERR_INVALID_ARGUMENT', /no data shard to feed/);
  expectVitError(() => dataShardShape('x', [6], [{ axis: 'data' }], 4), 'ERR_INVALID_ARGUMENT', /no data shard to feed/);
});

test('checkMeshFits names the number a mesh does not divide', () => {
  const big = getPreset('vit-22b/14');
  expectVitError(() => checkMeshFits(big, { data: 1, model: 5 }), 'ERR_INVALID_CONFIG', /heads 48 is not divisible by model=5/);
  expectVitError(() => checkMeshFits({ ...recipe, heads: 8, width: 36 }, { data: 1, model: 8 }), 'ERR_INVALID_CONFIG', /width 36 is not divisible by model=8/);
  expectVitError(() => checkMeshFits({ ...recipe, mlpDim: 66 }, { data: 1, model: 4 }), 'ERR_INVALID_CONFIG', /MLP width 66 is not divisible by model=4/);
  expectVitError(() => checkMeshFits(recipe, { data: 3, model: 1 }, 8), 'ERR_INVALID_CONFIG', /global batch 8 is not divisible by data=3/);
  expect(checkMeshFits(big, { data: 2, model: 8 }, 1024)).toEqual({ data: 2, model: 8 });
});

test('checkMesh refuses what is not a mesh', () => {
  expectVitError(() => checkMesh({ data: 0 }), 'ERR_INVALID_CONFIG', /data must be an integer >= 1/);
  expectVitError(() => checkMesh({ data: 2.5 }), 'ERR_INVALID_CONFIG', /data must be an integer/);
  expectVitError(() => checkMesh({ pipeline: 2 }), 'ERR_INVALID_CONFIG', /unknown mesh axis 'pipeline'/);
  expectVitError(() => checkMesh({ data: 16, model: 8 }), 'ERR_INVALID_CONFIG', /devices is more than 64/);
  expectVitError(() => checkMesh(null), 'ERR_INVALID_CONFIG', /must be an object/);
  expect(checkMesh({ model: 4 })).toEqual({ data: 1, model: 4 });
});

/** Naive: the global index of local index i along one dimension, from the definition of a segmented split. */
function naiveGlobalIndex(i: number, size: number, split: DimLayout, mesh: MeshShape, j: number): number {
  if (!split) return i;
  const n = mesh[split.axis];
  const segments = split.segments ?? [size];
  let offset = 0;
  for (const s of segments) {
    const len = s / n;
    if (i < len) return offset + j * len + i;
    i -= len;
    offset += s;
  }
  throw new Error('out of range');
}

test('device slices of a segmented tensor match the definition, and put back the whole', () => {
  const mesh = { data: 2, model: 4 };
  const shape = [3, 32 + 32 + 16];
  const dims: DimLayout[] = [null, { axis: 'model', segments: [32, 32, 16] }];
  const global = Float32Array.from({ length: 3 * 80 }, (_u, i) => i * 0.5 - 7);
  const back = new Float32Array(global.length);
  for (let r = 0; r < 8; ++r) {
    const c = coordinatesOf(mesh, r);
    const local = sliceForDevice(global, shape, dims, mesh, c);
    expect(local.length).toBe(3 * 20);
    for (let row = 0; row < 3; ++row) {
      for (let col = 0; col < 20; ++col) {
        expect(local[row * 20 + col]).toBe(global[row * 80 + naiveGlobalIndex(col, 80, dims[1]!, mesh, c.model)]);
      }
    }
    placeFromDevice(back, local, shape, dims, mesh, c);
  }
  expect(back).toEqual(global);
  expect(localRuns(80, dims[1]!, mesh, 3)).toEqual([
    [24, 8],
    [56, 8],
    [76, 4],
  ]);
});

test('reshapes keep a split that leads its group, and ask for a gather otherwise', () => {
  const m = { data: 2, model: 4 };
  const model = { axis: 'model' as const };
  const data = { axis: 'data' as const };
  // [B, T, D] -> [B, T, H, dh]: D's split lands on H.
  expect(mapReshapeDims([2, 5, 32], [2, 5, 4, 8], [data, null, model], m)).toEqual({ ok: true, dims: [data, null, model, null] });
  // and back.
  expect(mapReshapeDims([2, 5, 4, 8], [2, 5, 32], [data, null, model, null], m)).toEqual({ ok: true, dims: [data, null, model] });
  // [B, 1, D] -> [B, D]: size-1 dimensions are never split.
  expect(mapReshapeDims([8, 1, 32], [8, 32], [data, null, model], m)).toEqual({ ok: true, dims: [data, model] });
  // A split of the trailing member of a group cannot survive a merge.
  expect(mapReshapeDims([4, 8], [32], [null, model], m)).toEqual({ ok: false, blocked: 1 });
  // 2 heads cannot carry a 4-way split.
  expect(mapReshapeDims([2, 5, 32], [2, 5, 2, 16], [null, null, model], m)).toEqual({ ok: false, blocked: 2 });
  // Segments survive only one-to-one.
  expect(mapReshapeDims([2, 48], [2, 3, 16], [null, { axis: 'model', segments: [16, 16, 16] }], m)).toEqual({ ok: false, blocked: 1 });
});

test('ZeRO-3 splits large weights, their gradients and AdamW state over data; remat block gathers them again for the backward', () => {
  const build = (zero: 0 | 3, remat: 'none' | 'block' = 'none') => {
    const b = new GraphBuilder({ precision: 'fp32' });
    buildVit(b, recipe, { batch: 8 });
    return compileGraph(b.graph, { train: { loss: 'loss', optimizer: { kind: 'adamw' } }, mesh: { data: 2, model: 2 }, zero, remat });
  };
  const plain = build(0);
  const zero = build(3);
  const find = (c: ReturnType<typeof build>, name: string) => c.memory.persistent.find((p) => p.name === name)!;
  // in/w [32, 160]: columns over model in segments, rows over data.
  expect(find(zero, 'block0/in/w').type.shape).toEqual([16, 80]);
  expect(find(zero, 'block0/in/w').layout!.dims).toEqual([{ axis: 'data' }, { axis: 'model', segments: [32, 32, 32, 64] }]);
  expect(find(zero, 'grad/block0/in/w').type.shape).toEqual([16, 80]);
  expect(find(zero, 'adamw/v/block0/in/w').type.shape).toEqual([16, 80]);
  // Small ones stay whole (a norm scale of 32).
  expect(find(zero, 'block0/norm/scale').type.shape).toEqual([32]);
  const bytes = (c: ReturnType<typeof build>) => c.memory.persistentBytes;
  expect(bytes(zero)).toBeLessThan(0.6 * bytes(plain));
  const gathers = (c: ReturnType<typeof build>, phase: string) =>
    c.lowered.plan.streams[0]!.filter((ins, i) => ins.kernel === 'all_gather' && ins.spec.axis === 'data' && c.lowered.origins[i]!.phase === phase).length;
  expect(gathers(zero, 'forward')).toBeGreaterThan(0);
  expect(gathers(zero, 'backward')).toBe(0);
  const regathered = build(3, 'block');
  expect(gathers(regathered, 'backward')).toBeGreaterThan(0);
  // Gradients come back as reduce-scatters over data instead of all-reduces.
  expect(zero.lowered.plan.streams[0]!.some((ins) => ins.kernel === 'reduce_scatter' && ins.spec.axis === 'data')).toBe(true);
});

test('ZeRO-3 under bf16-mixed gathers the weights in bf16', () => {
  const b = new GraphBuilder({ precision: 'bf16-mixed' });
  buildVit(b, recipe, { batch: 8 });
  const c = compileGraph(b.graph, { train: { loss: 'loss', optimizer: { kind: 'adamw' } }, mesh: { data: 2, model: 1 }, zero: 3 });
  // (The update phase also all-gathers each rank's gradient-norm part over data: one f32 each.)
  const dtypes = new Set(c.lowered.plan.streams[0]!.filter((ins, i) => ins.kernel === 'all_gather' && ins.spec.axis === 'data' && c.lowered.origins[i]!.phase === 'forward').map((ins) => ins.spec.dtype));
  expect(dtypes).toEqual(new Set(['bf16']));
});

test('options and combinations not built yet are typed errors naming them', () => {
  const build = (extra: Record<string, unknown>, optimizer: Record<string, unknown> = { kind: 'adamw' }) => () => {
    const b = new GraphBuilder({ precision: 'fp32' });
    buildVit(b, recipe, { batch: 8 });
    return compileGraph(b.graph, { train: { loss: 'loss', optimizer: optimizer as never }, ...(extra as object) });
  };
  expectVitError(build({ mesh: { data: 2, model: 1 }, zero: 2 }), 'ERR_INVALID_ARGUMENT', /zero must be 0 or 3/);
  expectVitError(build({ mesh: { data: 1, model: 2 }, overlap: 'rings' }), 'ERR_INVALID_ARGUMENT', /overlap must be one of none, streams, ring, bidirectional/);
  expectVitError(build({ mesh: { data: 1, model: 2 } }, { kind: 'adafactor', clipThreshold: 1 }), 'ERR_NOT_IMPLEMENTED', /block-RMS clipping of 'block0\/in\/w'/);
});

test('a layout the pass has no rule for is ERR_NOT_IMPLEMENTED naming the op', () => {
  const b = new GraphBuilder({ precision: 'fp32' });
  const x = b.input('x', [4, 8]);
  const w = b.param('w', [6, 8], { sharding: ['model', null] });
  b.output('loss', b.reshape(b.matmul(b.reshape(b.matmul(x, w, { transB: true }), [1, 24]), b.input('r', [24, 1])), []));
  expectVitError(() => compileGraph(b.graph, { mesh: { data: 1, model: 2 } }), 'ERR_NOT_IMPLEMENTED', /partitioning matmul: transposed operands that are split/);
});
