// `vit22b bench step`'s GPU-benchmark options on the CPU, in-process: --depth, FLOPs and MFU in the
// report, --peak-tflops, the usage errors, and --peer torch end to end when a Python with torch is
// here (the peer's own logic is covered without torch in test/unit/bench-peer.test.ts).
import { findTorchPython } from '../../lib/bench/torch-peer';
import { cli } from '../helpers/cli-run';

const base = ['bench', 'step', '--preset', 'tiny', '--device', 'cpu', '--batch', '4', '--steps', '1', '--warmup', '1'];

test('--depth replaces the depth; --json carries FLOPs, launched FLOPs and a note instead of MFU on the CPU', async () => {
  const r = await cli([...base, '--depth', '1', '--json']);
  expect(r.code).toBe(0);
  const j = JSON.parse(r.out);
  expect(j).toMatchObject({ benchmark: 'step', model: 'tiny (depth 1)', batch: 4, precision: 'fp32', batchAuto: false });
  // tiny at depth 1: N_token = 33056 + 64 + 8320 = 41440, N_image = 25674, attention 12·64·49² + 12·64·49
  // = 1843968 + 37632; 6·(41440·49 + 25674) + 1881600 = 12337404 + 1881600 = 14219004.
  expect(j.flops.perImage).toBe(14219004);
  expect(j.launchedFlopsPerStep).toBeGreaterThan(0);
  expect(j.utilization).toEqual({ note: expect.stringMatching(/no bf16 peak for a CPU/) });
});

test('--peak-tflops gives MFU and HFU in the text report', async () => {
  const r = await cli([...base, '--peak-tflops', '0.5']);
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/training step of tiny \(0\.17M parameters\), batch 4, fp32/);
  expect(r.out).toMatch(/model FLOPs 0\.05 GFLOP per image \(PaLM, N = 0\.17M non-embedding, T = 49\)/);
  expect(r.out).toMatch(/MFU \d+\.\d%, HFU \d+\.\d% of cpu .*'s 0\.5 TFLOP\/s dense bf16/);
});

test.each([
  [['--batch', 'auto'], '--batch auto needs --device cuda'],
  [['--depth', '0'], '--depth'],
  [['--peer', 'jax'], '--peer'],
  [['--peer', 'torch', '--peer-modes', 'eager,jit'], '--peer-modes'],
  [['--peak-tflops', '-1'], '--peak-tflops'],
])('%j is a usage error', async (extra, mention) => {
  const r = await cli([...base, ...extra]);
  expect(r.code).toBe(2);
  expect(r.err).toContain('ERR_USAGE');
  expect(r.err).toContain(mention);
});

test('--help lists the stack and the peer', async () => {
  const r = await cli(['bench', 'step', '--help']);
  expect(r.out).toContain('vit-22b-stack');
  expect(r.out).toContain('--peer torch');
});

const withTorch = findTorchPython() ? test : test.skip;

withTorch('--peer torch: both rows, the ratio, and the peer\'s fallbacks as notes', async () => {
  const r = await cli([...base, '--depth', '2', '--peer', 'torch', '--peer-modes', 'eager,compile', '--json']);
  expect(r.code).toBe(0);
  const j = JSON.parse(r.out);
  expect(j.peer.parameters).toBe(j.parameters);
  expect(j.comparison[0]).toMatchObject({ name: 'vit22b', batch: 4 });
  const eager = j.comparison.find((row: { name: string }) => / eager$/.test(row.name));
  expect(eager.batch).toBe(4);
  expect(eager.ratio).toBeCloseTo(j.imagesPerSecond / eager.imagesPerSecond, 9);
  expect(j.comparison.some((row: { name: string }) => / compile$/.test(row.name))).toBe(true);
}, 180_000);
