#!/usr/bin/env node
// GPU checks of `vit22b bench step --device cuda` (issue 7, "Speed"), in plain JavaScript over
// dist/ so they run on a GPU machine with Node.js alone: the report is complete and sane (finite
// images/s, MFU against the card's peak or a note saying why not, HFU close to MFU without remat),
// --batch auto picks a batch that runs, the ViT-22B-width stack runs at depth 1, and --peer torch
// yields PyTorch rows and ratios when a Python with torch is there. Timing *values* are not checked:
// bench/gpu-all.sh measures; this proves the command works. Prints { checks: [{ name, ok, detail }] }
// and exits 1 on any failure; without CUDA, one failed check that says so.
'use strict';
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const { check, assert, finish, loadVit } = require('./check-harness.cjs');

const root = path.resolve(__dirname, '..', '..');
const vit = loadVit();
const CLI = path.join(root, 'dist', 'cli.js');

/** `vit22b bench step ARGS --device cuda --json`, parsed; throws with stderr's tail on failure. */
function benchStep(args, timeout = 300_000) {
  const r = spawnSync(process.execPath, [CLI, 'bench', 'step', ...args, '--device', 'cuda', '--json'], { encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`exit ${r.status ?? r.signal}: ${(r.stderr || r.stdout).trim().split('\n').slice(-4).join(' | ')}`);
  return JSON.parse(r.stdout);
}

function checkReport(j, batch) {
  assert(j.benchmark === 'step' && j.device.startsWith('cuda'), `not a cuda step report: ${j.device}`);
  if (batch !== undefined) assert(j.batch === batch, `batch ${j.batch}, expected ${batch}`);
  assert(Number.isFinite(j.imagesPerSecond) && j.imagesPerSecond > 0, `images/s ${j.imagesPerSecond}`);
  assert(Math.abs(j.medianSecondsPerStep * j.imagesPerSecond - j.batch) < 1e-6 * j.batch, 'images/s is not batch / median');
  assert(j.precision === 'bf16-mixed', `precision ${j.precision} (bf16-mixed is the default on CUDA)`);
  assert(j.flops.perImage > 0 && j.launchedFlopsPerStep > 0, 'FLOPs missing');
  const u = j.utilization;
  if (vit.denseBf16Peak(j.device)) {
    assert(u.mfu > 0 && u.mfu < 1, `MFU ${u.mfu} outside (0, 1): the timing or the FLOPs are wrong`);
    // Without remat the launched FLOPs are 1.00-1.03x the model FLOPs (bench/NOTES.md).
    assert(u.hfu / u.mfu > 0.99 && u.hfu / u.mfu < 1.05, `HFU / MFU = ${u.hfu / u.mfu}`);
    return `${j.imagesPerSecond.toFixed(1)} images/s at batch ${j.batch}, MFU ${(u.mfu * 100).toFixed(1)}% of ${u.card}`;
  }
  assert(typeof u.note === 'string' && u.note.includes('not in the peak table'), `no MFU and no note: ${JSON.stringify(u)}`);
  return `${j.imagesPerSecond.toFixed(1)} images/s at batch ${j.batch}; ${u.note}`;
}

const status = vit.cudaStatus();
check('CUDA available', () => {
  assert(status.available, `CUDA unavailable: ${status.reason}`);
  return status.devices.map((d) => `${d.name} (${(d.memoryBytes / 2 ** 30).toFixed(1)} GiB)`).join(', ');
});
if (!status.available) {
  finish();
} else {
  check('tiny, batch 32: a complete report', () => checkReport(benchStep(['--preset', 'tiny', '--batch', '32', '--steps', '3']), 32));
  check('vit-b/16 at depth 1, --batch auto: the planned batch runs', () => {
    const j = benchStep(['--preset', 'vit-b/16', '--depth', '1', '--steps', '3']);
    assert(j.batchAuto === true, 'batch was not automatic');
    assert(j.batch >= 64, `auto batch ${j.batch} is implausibly small for a 1-layer ViT-B`);
    return checkReport(j);
  });
  check('vit-22b-stack at depth 1, batch 4: the full-width shapes run', () => {
    const j = benchStep(['--preset', 'vit-22b-stack', '--depth', '1', '--batch', '4', '--steps', '2']);
    assert(j.model === 'vit-22b-stack (depth 1)', j.model);
    assert(j.flops.tokens === 256, `tokens ${j.flops.tokens}`);
    return checkReport(j, 4);
  });
  const python = findPython();
  check('--peer torch (eager) on tiny: PyTorch rows and ratios', () => {
    if (!python) return 'skipped: no python3 with torch here';
    const j = benchStep(['--preset', 'tiny', '--batch', '32', '--steps', '3', '--peer', 'torch', '--peer-modes', 'eager', '--peer-timeout', '240']);
    const eager = j.comparison.find((r) => / eager$/.test(r.name));
    assert(eager && !eager.missing, `no eager row: ${JSON.stringify(j.comparison)}`);
    assert(eager.ratio > 0 && Math.abs(eager.ratio - j.imagesPerSecond / eager.imagesPerSecond) < 1e-9, 'ratio is not vit22b / eager');
    assert(j.peer.features.sdpa === true, 'torch without scaled_dot_product_attention on the GPU machine');
    return `${j.peer.peer}: eager ${eager.imagesPerSecond.toFixed(1)} images/s, vit22b / eager ${eager.ratio.toFixed(2)}x; notes: ${j.peer.notes.join('; ') || 'none'}`;
  });
  finish();
}

function findPython() {
  for (const py of [process.env.PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean)) {
    if (spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0) return py;
  }
  return undefined;
}
