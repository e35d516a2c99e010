#!/usr/bin/env node
// A whole training step of the `tiny` ViT on the CPU, side by side with the same architecture written
// in PyTorch (bench/step_torch.py: forward, backward, clipping, AdamW), same batch and same thread
// count, measured in the same run, alternating the two so that load on a shared machine hits both.
// Prints images/s of each and the ratio. Without python3 + torch it says how to install it and
// reports vit22b alone.  Usage: node bench/step-cpu.mjs [batch] [rounds]
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { openDevice, benchStep, getPreset, systemInfo } = require('../dist/index.js');

const batch = Number(process.argv[2] ?? 128);
const rounds = Number(process.argv[3] ?? 3);
const here = path.dirname(fileURLToPath(import.meta.url));
const device = openDevice({ device: 'cpu' });
const threads = systemInfo().cpu?.kernelThreads ?? 1;

// The first Python that has torch: $PYTHON, python3 on the PATH, then Debian's (a pyenv or venv
// python3 on the PATH does not see python3-torch).
const python = [process.env.PYTHON, 'python3', '/usr/bin/python3']
  .filter(Boolean)
  .find((py) => spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0);

function torchPeer() {
  if (!python) return { missing: 'no python3 with torch found ($PYTHON, python3, /usr/bin/python3)' };
  const r = spawnSync(python, [path.join(here, 'step_torch.py'), '--batch', String(batch), '--threads', String(threads), '--steps', '5'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`);
    return { missing: why };
  }
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const ours = [];
const peer = [];
let peerInfo;
for (let i = 0; i < rounds; i++) {
  const r = await benchStep(device, { config: getPreset('tiny'), name: 'tiny', batch, steps: 5 });
  ours.push(r.imagesPerSecond);
  const t = torchPeer();
  if (t.missing) {
    peerInfo = t;
    break;
  }
  peer.push(t.imagesPerSecond);
  peerInfo = t;
}
const v = median(ours);
console.log(`training step, tiny ViT (170,506 parameters), batch ${batch}, fp32, AdamW + clipping, ${threads} threads`);
console.log(`  vit22b                    ${v.toFixed(1)} images/s   (median of ${ours.length} rounds: ${ours.map((x) => x.toFixed(0)).join(', ')})`);
if (peer.length === 0) {
  console.log(`  PyTorch peer skipped: ${peerInfo?.missing ?? 'not run'}`);
  console.log('  install it with: apt-get install python3-torch   (Debian; or pip install torch), then rerun');
} else {
  const p = median(peer);
  console.log(`  ${peerInfo.peer.padEnd(25)} ${p.toFixed(1)} images/s   (median of ${peer.length} rounds: ${peer.map((x) => x.toFixed(0)).join(', ')})`);
  console.log(`  ratio vit22b / PyTorch:   ${(v / p).toFixed(2)}x`);
}
device.dispose();
