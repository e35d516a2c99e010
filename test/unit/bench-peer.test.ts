// The PyTorch peer of `bench step` (lib/bench/torch-peer.ts): the comparison arithmetic on made-up
// results, and bench/step_torch_gpu.py itself on the CPU with tiny sizes (its smoke path: the
// fallbacks of a torch without SDPA, fused AdamW or torch.compile, and the halving on out-of-memory).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { comparePeer, findTorchPython, formatComparison, peerArgs, runTorchPeer, type TorchPeerResult } from '../../lib/bench/torch-peer';
import { countParams, getPreset } from '../../lib/model';

const card = { deviceName: 'cuda:0 (NVIDIA H100 80GB HBM3)', deviceKind: 'cuda' as const, modelFlopsPerImage: 104832770928 };

const peer: TorchPeerResult = {
  peer: 'pytorch 2.5.1',
  device: 'cuda:0 (NVIDIA H100 80GB HBM3)',
  parameters: 86567656,
  precision: 'bf16-mixed',
  notes: [],
  features: {},
  runs: [
    { mode: 'eager', batch: 256, imagesPerSecond: 2000, medianSecondsPerStep: 0.128, steps: 10 },
    { mode: 'compile', skipped: 'torch.compile unavailable in torch 1.13' },
  ],
};

describe('comparePeer', () => {
  test('ratios vit22b / peer and MFU from the same FLOPs per image and card', () => {
    const ours = { batch: 256, imagesPerSecond: 3000, medianSecondsPerStep: 256 / 3000, utilization: { card: 'H100 SXM', peakTflops: 989.4, mfu: 0.317868 } };
    const rows = comparePeer(ours, peer, card);
    expect(rows.map((r) => r.name)).toEqual(['vit22b', 'pytorch 2.5.1 eager', 'pytorch 2.5.1 compile']);
    expect(rows[1]!.ratio).toBeCloseTo(1.5, 12); // 3000 / 2000
    // 104832770928 x 2000 / 989.4e12 = 0.211912
    expect(rows[1]!.utilization).toMatchObject({ card: 'H100 SXM' });
    expect((rows[1]!.utilization as { mfu: number }).mfu).toBeCloseTo(0.211912, 6);
    expect(rows[2]).toEqual({ name: 'pytorch 2.5.1 compile', missing: 'torch.compile unavailable in torch 1.13' });
    const text = formatComparison(rows);
    expect(text).toMatch(/vit22b\s+3000\.0\s+85\.3\s+256\s+31\.8%/);
    expect(text).toMatch(/pytorch 2\.5\.1 eager\s+2000\.0\s+128\.0\s+256\s+21\.2%\s+-\s+1\.50x/);
    expect(text).toMatch(/compile\s+-- torch\.compile unavailable/);
  });

  test('a failed vit22b step or a missing peer still gives rows', () => {
    const rows = comparePeer({ error: 'ERR_DEVICE_OOM: out of memory' }, peer, card);
    expect(rows[0]).toEqual({ name: 'vit22b', missing: 'ERR_DEVICE_OOM: out of memory' });
    expect(rows[1]!.ratio).toBeUndefined();
    expect(rows[1]!.imagesPerSecond).toBe(2000);
    const none = comparePeer({ error: 'x' }, { missing: 'no python3 with torch found' }, card);
    expect(none[1]).toEqual({ name: 'pytorch', missing: 'no python3 with torch found' });
  });

  test('peerArgs passes the whole config and the timing options', () => {
    const config = getPreset('tiny');
    const args = peerArgs({ config, batch: 8, precision: 'bf16-mixed', device: 'cuda', modes: ['eager', 'compile'], steps: 10, warmup: 3, seconds: 5 });
    expect(JSON.parse(args[args.indexOf('--config-json') + 1]!)).toEqual(config);
    expect(args.join(' ')).toContain('--batch 8 --precision bf16-mixed --device cuda --modes eager,compile --steps 10 --warmup 3 --seconds 5 --shrink-on-oom');
  });

  test('a missing script or Python is reported, not thrown', () => {
    const o = { config: getPreset('tiny'), batch: 2, precision: 'fp32' as const, device: 'cpu' as const, modes: ['eager' as const], steps: 1, warmup: 0, seconds: 0 };
    expect(runTorchPeer({ ...o, script: '/nonexistent/step.py' })).toEqual({ missing: expect.stringMatching(/not found/) });
    expect(runTorchPeer({ ...o, python: '/nonexistent/python3' })).toEqual({ missing: expect.stringMatching(/no python3 with torch/) });
  });

  test('a script that prints no JSON is reported with its stderr', () => {
    const python = findTorchPython() ?? (fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : undefined);
    if (!python || !findTorchPython(python)) return; // needs a Python with torch to get past the probe
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-peer-'));
    const script = path.join(dir, 'broken.py');
    fs.writeFileSync(script, 'import sys\nprint("boom", file=sys.stderr)\nsys.exit(3)\n');
    const r = runTorchPeer({ config: getPreset('tiny'), batch: 2, precision: 'fp32', device: 'cpu', modes: ['eager'], steps: 1, warmup: 0, seconds: 0, script, python });
    expect(r).toEqual({ missing: expect.stringMatching(/printed no result \(exit 3\): boom/) });
    fs.rmSync(dir, { recursive: true });
  });

  test('a script stopped by the time limit: its results so far, the rest marked', () => {
    const python = findTorchPython();
    if (!python) return;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-peer-'));
    const script = path.join(dir, 'slow.py');
    const partial = { ...peer, runs: [peer.runs[0]], partial: true };
    fs.writeFileSync(script, `import time\nprint(${JSON.stringify(JSON.stringify(partial))}, flush=True)\ntime.sleep(60)\n`);
    const r = runTorchPeer({ config: getPreset('tiny'), batch: 2, precision: 'fp32', device: 'cpu', modes: ['eager', 'compile'], steps: 1, warmup: 0, seconds: 0, script, python, timeoutMs: 2000 });
    if ('missing' in r) throw new Error(r.missing);
    expect(r.runs[0]).toMatchObject({ mode: 'eager', imagesPerSecond: 2000 });
    expect(r.runs[1]).toEqual({ mode: 'compile', error: expect.stringMatching(/^stopped after 2 s/) });
    expect(r.notes.at(-1)).toMatch(/results so far/);
    expect('partial' in r).toBe(false);
    fs.rmSync(dir, { recursive: true });
  });
});

// The smoke path of bench/step_torch_gpu.py: needs a Python with torch (Debian: python3-torch).
const python = findTorchPython();
const withTorch = python ? describe : describe.skip;

withTorch('bench/step_torch_gpu.py on the CPU (tiny sizes)', () => {
  test.each(['tiny', 'vit-b/16'])('%s: eager figures, parameter count as vit22b, fallbacks said', (preset) => {
    // vit-b/16 shrunk: the classic block (LayerNorm with biases, QKV bias, class token, erf GELU).
    const config = preset === 'tiny' ? getPreset('tiny') : getPreset('vit-b/16', { imageSize: 32, width: 48, heads: 4, mlpDim: 96, depth: 2, gelu: 'erf' });
    const r = runTorchPeer({ config, batch: 4, precision: 'bf16-mixed', device: 'cpu', modes: ['eager', 'compile'], steps: 2, warmup: 1, seconds: 0, python });
    if ('missing' in r) throw new Error(r.missing);
    expect(r.parameters).toBe(countParams(config).total);
    expect(r.device).toBe('cpu');
    expect(r.precision).toBe('bf16-mixed');
    const eager = r.runs.find((x) => x.mode === 'eager')!;
    expect(eager).toMatchObject({ batch: 4, steps: 2 });
    expect(eager.imagesPerSecond).toBeGreaterThan(0);
    expect(eager.medianSecondsPerStep).toBeCloseTo(4 / eager.imagesPerSecond!, 9);
    const compiled = r.runs.find((x) => x.mode === 'compile')!;
    if (r.features.compile === false) {
      expect(compiled.skipped).toMatch(/torch\.compile unavailable/);
      expect(r.notes.join('\n')).toMatch(/compile mode skipped/);
    }
    if (r.features.sdpa === false) expect(r.notes.join('\n')).toMatch(/scaled_dot_product_attention unavailable/);
  });

  test('out of memory halves the batch (simulated) and says so', () => {
    const env = { ...process.env, STEP_TORCH_FAKE_OOM_ABOVE: '3' };
    const r = runTorchPeer({ config: getPreset('tiny'), batch: 16, precision: 'fp32', device: 'cpu', modes: ['eager'], steps: 1, warmup: 1, seconds: 0, python, env });
    if ('missing' in r) throw new Error(r.missing);
    expect(r.runs[0]).toMatchObject({ mode: 'eager', batch: 2, batchRequested: 16 });
    expect(r.notes.filter((n) => /out of memory at batch/.test(n))).toHaveLength(3); // 16 -> 8 -> 4 -> 2
  });

  test('--device cuda without CUDA: a JSON error, exit 1', () => {
    const r = runTorchPeer({ config: getPreset('tiny'), batch: 2, precision: 'fp32', device: 'cuda', modes: ['eager'], steps: 1, warmup: 0, seconds: 0, python });
    if (!('missing' in r)) return; // a machine where torch sees a GPU
    expect(r.missing).toMatch(/^pytorch .*: CUDA unavailable to torch$/);
  });
});
