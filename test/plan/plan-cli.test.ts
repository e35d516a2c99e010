// `vit22b plan --device / --search / --calibrate`: the documented --json fields, the text report,
// the search's ordering and reasons, the CPU calibration file, and typed refusals of bad input.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cli } from '../helpers/cli-run';
import { openDevice } from '../../lib';
import { measureCalibration, writeCalibration } from '../../lib/plan/calibration';

const FIELDS = ['model', 'parameters', 'batch', 'perDeviceBatch', 'precision', 'remat', 'zero', 'overlap', 'overlapModel', 'mesh', 'devices', 'device', 'topology', 'compiled', 'memory', 'flops', 'communication', 'time', 'mfu', 'criticalPath', 'kernels'];

test('plan --device --json: the documented fields, a fitting tiny mesh, traffic on NVLink', async () => {
  const r = await cli(['plan', '--preset', 'tiny', '--batch', '8', '--mesh', 'data=2,model=2', '--device', 'h100-sxm', '--zero', '3', '--overlap', 'ring', '--json']);
  expect(r.code).toBe(0);
  const e = JSON.parse(r.out);
  expect(Object.keys(e).sort()).toEqual([...FIELDS].sort());
  expect(Object.keys(e.memory).sort()).toEqual(
    ['parameters', 'gradients', 'optimizerState', 'constants', 'arena', 'activations', 'gatheredWeights', 'communicationBuffers', 'fragmentation', 'total', 'fits', 'capacity', 'reserve', 'headroom', 'advice'].sort(),
  );
  expect(Object.keys(e.time).sort()).toEqual(['stepSeconds', 'serialSeconds', 'unoverlappedSeconds', 'computeSeconds', 'communicationSeconds', 'exposedCommunicationSeconds', 'imagesPerSecond'].sort());
  expect(e.memory.fits).toBe(true);
  expect(e.memory.advice).toEqual([]);
  expect(e.devices).toBe(4);
  expect(e.topology).toEqual({ devicesPerNode: 8, nodes: 1, model: 'link', data: 'link' });
  expect(e.mfu.withOverlap).toBeGreaterThan(0);
  expect(e.mfu.withOverlap).toBeLessThan(1);
  expect(e.time.stepSeconds).toBeLessThanOrEqual(e.time.unoverlappedSeconds);
  for (const c of e.communication) expect(c.carrier).toBe('link');
  expect(e.communication.map((c: { collective: string; axis: string }) => `${c.collective} over ${c.axis}`)).toEqual(expect.arrayContaining(['all_gather over data', 'reduce_scatter over data', 'all_gather over model']));
  // The text report says what is modelled, and the help documents the JSON.
  const t = await cli(['plan', '--preset', 'tiny', '--batch', '8', '--mesh', 'data=2,model=2', '--device', 'h100-sxm']);
  expect(t.out).toMatch(/MFU \(modelled\): \d+\.\d% with overlap/);
  expect(t.out).toMatch(/critical path: \d+ instructions/);
  expect(t.out).toMatch(/fits, \d+\.\d\d GiB headroom/);
  const h = await cli(['plan', '--help']);
  for (const f of ['--json with --device', 'exposedCommunicationSeconds', 'withOverlap', '--json with --search', 'rejected[{mesh,zero?,remat?,reason}]']) expect(h.out).toContain(f);
});

test('a plan that does not fit says so and what to change', async () => {
  const r = await cli(['plan', '--preset', 'vit-22b/14', '--batch', '8', '--mesh', 'data=8', '--device', 'a100', '--json']);
  expect(r.code).toBe(0);
  const e = JSON.parse(r.out);
  expect(e.compiled.extrapolated).toBe(true);
  expect(e.compiled.depths).toEqual([2, 3]);
  expect(e.memory.fits).toBe(false);
  expect(e.memory.headroom).toBeLessThan(0);
  expect(e.memory.advice.join('\n')).toMatch(/--zero 3/);
  expect(e.memory.advice.join('\n')).toMatch(/model=2/);
});

test('plan --search: best first, each rejection with its reason', async () => {
  const r = await cli(['plan', '--search', '--gpus', '8', '--device', 'a100', '--preset', 'tiny', '--batch', '16', '--top', '3', '--json']);
  expect(r.code).toBe(0);
  const s = JSON.parse(r.out);
  expect(s.best).toHaveLength(3);
  for (let i = 1; i < s.best.length; i++) expect(s.best[i].stepSeconds).toBeGreaterThanOrEqual(s.best[i - 1].stepSeconds);
  expect(s.bestPlan.time.stepSeconds).toBeCloseTo(s.best[0].stepSeconds, 12);
  // heads 4 is not divisible by model=8; the rest fit and are slower.
  expect(s.rejected.some((x: { reason: string }) => /heads 4 is not divisible by model=8/.test(x.reason))).toBe(true);
  expect(s.rejected.some((x: { reason: string }) => /fits, but slower/.test(x.reason))).toBe(true);
  expect(r.err).toMatch(/planning data=/);
});

test('the calibration file (as plan --calibrate writes it) is the CPU entry; --device cpu reads it; bad input is refused', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-plan-'));
  const file = path.join(dir, 'cal.json');
  // The measurement as `plan --calibrate` makes it, on small shapes only (the full one takes ~10 s).
  {
    using device = openDevice({ device: 'cpu' });
    writeCalibration(measureCalibration(device, { seconds: 0.002, maxMacs: 2 ** 20 }), file);
  }
  const cal = JSON.parse(fs.readFileSync(file, 'utf8'));
  expect(cal.version).toBe(1);
  // The grid's shapes of at most 2^20 multiply-adds: 64x64x16, 64x64x64, 64x384x16, 512x64x16, in f32 and bf16.
  expect(cal.gemm.map((g: { m: number; n: number; k: number }) => `${g.m}x${g.n}x${g.k}`).slice(0, 4)).toEqual(['64x64x16', '64x64x64', '64x384x16', '512x64x16']);
  expect(cal.gemm).toHaveLength(8);
  expect(cal.gemm.every((g: { gflops: number }) => g.gflops > 0)).toBe(true);
  expect(cal.bandwidthGBps).toBeGreaterThan(0);
  const r = await cli(['plan', '--preset', 'tiny', '--batch', '4', '--device', 'cpu', '--calibration', file, '--precision', 'fp32', '--json']);
  expect(r.code).toBe(0);
  const e = JSON.parse(r.out);
  expect(e.device.id).toBe('cpu');
  expect(e.time.stepSeconds).toBeGreaterThan(0);
  const missing = await cli(['plan', '--preset', 'tiny', '--device', 'cpu', '--calibration', path.join(dir, 'none.json')]);
  expect(missing.code).not.toBe(0);
  expect(missing.err).toMatch(/vit22b plan --calibrate/);
  fs.writeFileSync(path.join(dir, 'bad.json'), '{"version": 2}');
  const bad = await cli(['plan', '--preset', 'tiny', '--device', 'cpu', '--calibration', path.join(dir, 'bad.json')]);
  expect(bad.err).toMatch(/ERR_INVALID_CONFIG/);
  fs.rmSync(dir, { recursive: true });
  const unknown = await cli(['plan', '--preset', 'tiny', '--device', 'v100']);
  expect(unknown.code).not.toBe(0);
  expect(unknown.err).toMatch(/ERR_INVALID_ARGUMENT[\s\S]*h100-sxm/);
  const nodes = await cli(['plan', '--preset', 'tiny', '--batch', '8', '--mesh', 'data=8', '--device', 'h100-sxm', '--nodes', '2']);
  expect(nodes.code).toBe(2);
  expect(nodes.err).toMatch(/--nodes 2 x --gpus-per-node 8 must equal the mesh's 8 devices/);
  const ring = await cli(['plan', '--preset', 'tiny', '--overlap', 'rings']);
  expect(ring.code).toBe(2);
  const peak = await cli(['plan', '--preset', 'tiny', '--device', 'h100-sxm', '--peak-tflops', '-1']);
  expect(peak.code).toBe(2);
});
