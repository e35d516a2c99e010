// The QK-norm study (lib/study/qk-norm.ts) on the built-in synthetic shapes with a very small model:
// the sweep's structure, an invariant of QK-norm the statistics must show, a forced divergence,
// and the table and figure built from the result.
import { getPreset, openDevice, syntheticDataset, validateConfig, type Device } from '../../lib';
import { qkNormStudy, type QkNormStudy } from '../../lib/study/qk-norm';
import { studyFigure, studyTable } from '../../lib/study/qk-norm-report';
import { ticks, tickText } from '../../lib/study/svg-chart';

let device: Device;
let study: QkNormStudy;
// width 32, 2 heads of 16, depth 2, on 28x28 synthetic shapes: a run of 20 steps takes ~1 s.
const config = validateConfig({ ...getPreset('tiny'), width: 32, heads: 2, depth: 2, mlpDim: 64, numClasses: 4 });
const HEAD_DIM = 16;

beforeAll(async () => {
  device = openDevice({ device: 'cpu' });
  const train = syntheticDataset({ size: 512, seed: 1, imageSize: 28 });
  const test = syntheticDataset({ size: 64, seed: 2, imageSize: 28 });
  // 1e9: AdamW moves every weight by about lr per step, so the logits overflow within a few steps.
  study = await qkNormStudy({ device, config: { ...config, numClasses: train.numClasses }, train, test, lrs: [1e-3, 1e9], steps: 20, batch: 32, statsEvery: 10, probeBatch: 16 });
}, 300_000);
afterAll(() => device.dispose());

test('one run per learning rate and arm, with statistics at step 0, every statsEvery steps and the end', () => {
  expect(study.runs.map((r) => [r.lr, r.qkNorm])).toEqual([
    [1e-3, false],
    [1e-3, true],
    [1e9, false],
    [1e9, true],
  ]);
  for (const r of study.runs.filter((x) => x.status === 'ok')) {
    expect(r.stats.map((s) => s.step)).toEqual([0, 10, 20]);
    expect(r.loss.map((s) => s.step)).toEqual([10, 20]);
    for (const s of r.stats) {
      expect(s.maxLogit).toHaveLength(2);
      // Entropy of a softmax over 49 keys lies in [0, log 49].
      for (const e of s.entropy) expect(e).toBeGreaterThanOrEqual(0), expect(e).toBeLessThanOrEqual(Math.log(49) + 1e-5);
    }
    expect(Number.isFinite(r.finalLoss)).toBe(true);
  }
});

test('with QK-norm at initialization (unit scales), no logit exceeds sqrt(headDim)', () => {
  // RMS-normalized q and k have norm sqrt(Dh), so scale * q.k <= Dh / sqrt(Dh) = sqrt(Dh) by
  // Cauchy-Schwarz; without QK-norm nothing bounds them.
  for (const r of study.runs.filter((x) => x.qkNorm)) {
    for (const v of r.stats[0]!.maxLogit) expect(v).toBeLessThanOrEqual(Math.sqrt(HEAD_DIM) * (1 + 1e-5));
  }
});

test('an absurd learning rate without QK-norm diverges, and the run says at which step', () => {
  const r = study.runs.find((x) => x.lr === 1e9 && !x.qkNorm)!;
  expect(r.status).toBe('diverged');
  expect(r.divergedAt).toBeGreaterThanOrEqual(1);
  expect(r.divergedAt).toBeLessThanOrEqual(20);
  expect(Number.isNaN(r.finalLoss)).toBe(true);
});

test('the table has a row per learning rate and the figure its four panels', () => {
  const table = studyTable(study).trim().split('\n');
  expect(table).toHaveLength(2 + 2);
  expect(table[2]).toMatch(/^\| 0\.001 \| \d+\.\d{3} \|/);
  expect(table[3]).toContain('diverged (step');
  const svg = studyFigure(study);
  expect(svg.startsWith('<svg')).toBe(true);
  for (const title of ['Final training loss', 'Attention entropy at the end', 'Max attention logit, no QK-norm', 'Max attention logit, QK-norm']) expect(svg).toContain(title);
  expect(svg).not.toMatch(/NaN|Infinity/);
});

test('axis ticks', () => {
  expect(ticks(1e-4, 1, true)).toEqual([1e-4, 1e-3, 1e-2, 1e-1, 1]);
  expect(ticks(0, 10, false)).toEqual([0, 2, 4, 6, 8, 10]);
  expect(ticks(0.3, 2.4, false)).toEqual([0.5, 1, 1.5, 2]);
  expect([1e-4, 0.003, 2.5, 120, 0].map(tickText)).toEqual(['1e-4', '0.003', '2.5', '120', '0']);
});

test('bad options get typed errors', async () => {
  const train = syntheticDataset({ size: 64, seed: 1, imageSize: 28 });
  await expect(qkNormStudy({ device, config: { ...config, block: 'sequential' }, train })).rejects.toMatchObject({ code: 'ERR_INVALID_CONFIG' });
  await expect(qkNormStudy({ device, config, train, lrs: [] })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  await expect(qkNormStudy({ device, config, train, lrs: [-1] })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
});
