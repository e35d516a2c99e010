/**
 * Program.timeline(): the last profiled step as Chrome trace events, one process per device of a
 * mesh and one thread per plan stream; every instruction of every rank once, on one clock, in
 * execution order within a track; `vit22b train --trace` writes it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { compile } from '../../lib/graph/compile';
import { getPreset } from '../../lib/model';
import { openDevice, type Device } from '../../lib/runtime';
import { vitModel } from '../../lib/train/vit-model';
import { cli } from '../helpers/cli-run';
import { thrownBy } from '../helpers/errors';
import { normals } from '../helpers/graph-harness';
import { mulberry32 } from '../helpers/prng';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => device.dispose());

test('a 2x2 step: four device tracks holding every instruction once, in order, collectives included', async () => {
  const config = getPreset('tiny', { imageSize: 8, patchSize: 4, channels: 3, width: 32, depth: 1, heads: 4, mlpDim: 64, numClasses: 5 });
  using p = compile(vitModel(config), { device, mesh: { data: 2, model: 2 }, inputShapes: { images: [4, 8, 8, 3], labels: [4] }, train: { loss: 'loss', optimizer: { kind: 'adamw' } } });
  const inputs = { images: normals(mulberry32(1), 4 * 8 * 8 * 3), labels: Int32Array.from([0, 1, 2, 3]) };
  expect(thrownBy(() => p.timeline())).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  p.setProfiling(true);
  await p.run(inputs, { lr: 1e-3, step: 1 });
  const t = p.timeline();
  p.setProfiling(false);
  const names = t.traceEvents.filter((e) => e.name === 'process_name').map((e) => e.args!.name);
  expect(names).toEqual(['rank 0 (data 0, model 0)', 'rank 1 (data 0, model 1)', 'rank 2 (data 1, model 0)', 'rank 3 (data 1, model 1)']);
  const instructions = p.main.lowered.plan.streams[0]!.length;
  for (let rank = 0; rank < 4; ++rank) {
    const spans = t.traceEvents.filter((e) => e.ph === 'X' && e.pid === rank);
    expect(spans).toHaveLength(instructions);
    expect(spans.map((e) => e.args!.instruction)).toEqual([...Array(instructions).keys()]);
    // One stream runs its instructions one after another.
    for (let i = 1; i < spans.length; ++i) expect(spans[i]!.ts!).toBeGreaterThanOrEqual(spans[i - 1]!.ts! + spans[i - 1]!.dur! - 1e-3);
    expect(spans.every((e) => e.ts! >= 0 && e.dur! >= 0)).toBe(true);
    expect(spans.some((e) => e.name === 'all_gather' && e.cat === 'all_gather')).toBe(true);
  }
});

test('vit22b train --trace writes the timeline of its second step', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-trace-'));
  try {
    const file = path.join(dir, 'step.json');
    const r = await cli(['train', '--steps', '3', '--batch', '8', '--progress', 'none', '--mesh', 'data=2', '--trace', file]);
    expect(r.code).toBe(0);
    const t = JSON.parse(fs.readFileSync(file, 'utf8')) as { traceEvents: { ph: string; pid: number }[] };
    expect(new Set(t.traceEvents.filter((e) => e.ph === 'X').map((e) => e.pid))).toEqual(new Set([0, 1]));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
