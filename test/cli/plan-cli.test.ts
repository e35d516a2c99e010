// `vit22b plan`: a training step compiled without a device, its memory, kernels and FLOPs.
import { countParams, getPreset } from '../../lib';
import { cli } from '../helpers/cli-run';

test('plan --json of the tiny preset: parameters, memory by kind, kernels and FLOPs', async () => {
  const r = await cli(['plan', '--preset', 'tiny', '--batch', '32', '--json']);
  expect(r.code).toBe(0);
  const s = JSON.parse(r.out);
  const params = countParams(getPreset('tiny')).total;
  expect(s.params.total).toBe(params);
  expect(s.memory.persistentByKind).toEqual({ param: 4 * params, grad: 4 * params, state: 8 * params });
  expect(s.memory.arenaBytes).toBeGreaterThan(0);
  expect(s.memory.totalBytes).toBe(s.memory.arenaBytes + s.memory.persistentBytes);
  expect(s.kernels.gemm).toBeGreaterThan(4 * 3);
  expect(s.kernels.attention_fwd).toBe(5); // 4 blocks and the MAP head
  expect(s.flops).toBeGreaterThan(0);
  // Rematerialization lowers the arena; the forward pass alone needs less still and no gradients.
  const block = JSON.parse((await cli(['plan', '--preset', 'tiny', '--batch', '32', '--remat', 'block', '--json'])).out);
  expect(block.memory.arenaBytes).toBeLessThan(s.memory.arenaBytes);
  const fwd = JSON.parse((await cli(['plan', '--preset', 'tiny', '--batch', '32', '--forward', '--json'])).out);
  expect(fwd.memory.persistentByKind.grad).toBeUndefined();
  expect(fwd.flops).toBeLessThan(s.flops / 2);
});

test('plan of ViT-22B (text) names its size; bad options are usage errors', async () => {
  const r = await cli(['plan', '--preset', 'vit-22b/14', '--precision', 'bf16-mixed', '--remat', 'block']);
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/block matrices 21,743,271,936/);
  expect(r.out).toMatch(/optimizer state\s+\d+\.\d+ GiB/);
  const bad = await cli(['plan', '--batch', '0']);
  expect(bad.code).not.toBe(0);
  expect(bad.err).toMatch(/ERR_USAGE|--batch/);
  const unknown = await cli(['plan', '--preset', 'vit-q']);
  expect(unknown.code).not.toBe(0);
  expect(unknown.err).toMatch(/ERR_INVALID_CONFIG/);
});

test('plan --mesh: one device of the mesh holds 1/k of the block matrices; the paper mesh for ViT-22B', async () => {
  const one = JSON.parse((await cli(['plan', '--preset', 'tiny', '--batch', '8', '--json'])).out);
  const m = JSON.parse((await cli(['plan', '--preset', 'tiny', '--batch', '8', '--mesh', 'data=2,model=4', '--json'])).out);
  expect(m.mesh).toEqual({ data: 2, model: 4 });
  expect(m.devices).toBe(8);
  expect(m.memory.persistentByKind.param).toBeLessThan(one.memory.persistentByKind.param / 2);
  expect(Object.keys(m.collectives).sort()).toEqual(['all_gather over model', 'all_reduce over data', 'all_reduce over model', 'reduce_scatter over model']);
  expect(one.collectives).toEqual({});
  const paper = await cli(['plan', '--preset', 'vit-22b/14', '--mesh', 'data=2,model=8', '--batch', '1024', '--precision', 'bf16-mixed']);
  expect(paper.code).toBe(0);
  expect(paper.out).toMatch(/per device of mesh data=2,model=8 \(16 devices\)/);
  expect(paper.out).toMatch(/parameters\s+11\.\d\d GiB/);
  const bad = await cli(['plan', '--preset', 'vit-22b/14', '--mesh', 'model=5']);
  expect(bad.code).not.toBe(0);
  expect(bad.err).toMatch(/heads 48 is not divisible by model=5/);
  const usage = await cli(['plan', '--mesh', 'tensor=2']);
  expect(usage.code).toBe(2);
  expect(usage.err).toMatch(/--mesh takes data=T,model=K/);
});
