#!/usr/bin/env node
// CPU GEMM benchmark (not a test): our f32 and bf16 GEMM against OpenBLAS sgemm, measured in the
// same run, on the same shapes and the same number of threads. Prints GFLOP/s and our ratio to
// OpenBLAS. Needs the built addon and dist/ (npm run build:native && npx tsup).
// OpenBLAS is Debian's libopenblas-dev, called through the tiny C program bench/openblas-sgemm.c,
// compiled here; when it is missing and we are root, `apt-get install -y libopenblas-dev` adds it.
//   node bench/gemm-cpu.mjs [--quick]     VIT22B_NUM_THREADS=n to pick the thread count
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const threads = Number(process.env.VIT22B_NUM_THREADS ?? os.availableParallelism());
process.env.VIT22B_NUM_THREADS = String(threads); // before our pool starts

// [label, M, N, K]. ViT shapes: M = 197 tokens x 16 images; the ViT-22B parallel block fuses the
// QKV and MLP-up projections (K = D, N = 3D + 4D = 7D) and the attention-out and MLP-down ones
// (K = D + 4D = 5D, N = D).
const SHAPES = [
  ['square 1024', 1024, 1024, 1024],
  ['square 2048', 2048, 2048, 2048],
  ['ViT-Ti D=192 in  (K=D, N=7D)', 3152, 7 * 192, 192],
  ['ViT-Ti D=192 out (K=5D, N=D)', 3152, 192, 5 * 192],
  ['ViT-B D=768 in   (K=D, N=7D)', 3152, 7 * 768, 768],
  ['ViT-B D=768 out  (K=5D, N=D)', 3152, 768, 5 * 768],
];

function log(msg) {
  console.log(msg);
}

function compileOpenBlas() {
  const exe = path.join(os.tmpdir(), `vit22b-openblas-sgemm-${process.pid}`);
  const compile = () =>
    spawnSync('cc', ['-O2', path.join(root, 'bench', 'openblas-sgemm.c'), '-o', exe, '-lopenblas'], { encoding: 'utf8' });
  let r = compile();
  if (r.status !== 0) {
    if (process.getuid?.() !== 0) {
      log('OpenBLAS (libopenblas-dev) is missing and we are not root: reporting our figures alone');
      return undefined;
    }
    log('installing libopenblas-dev (apt-get install -y libopenblas-dev) ...');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    let apt = spawnSync('apt-get', ['install', '-y', 'libopenblas-dev'], { encoding: 'utf8', env });
    if (apt.status !== 0) {
      spawnSync('apt-get', ['update'], { encoding: 'utf8', env });
      apt = spawnSync('apt-get', ['install', '-y', 'libopenblas-dev'], { encoding: 'utf8', env });
    }
    r = compile();
    if (r.status !== 0) {
      log(`OpenBLAS unavailable (${(apt.stderr || r.stderr).trim().split('\n').pop()}): reporting our figures alone`);
      return undefined;
    }
  }
  return exe;
}

function openBlasSeconds(exe, m, n, k) {
  const r = spawnSync(exe, [`${m},${n},${k}`], {
    encoding: 'utf8',
    env: { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) },
  });
  if (r.status !== 0) throw new Error(`openblas helper failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim()).seconds;
}

const { openDevice, systemInfo, benchGemm } = await import(path.join(root, 'dist', 'index.mjs'));
// Ours: the same measurement as `vit22b bench gemm` (median of repeated calls after a warm-up).
const oursGflops = (device, dtype, m, n, k) => benchGemm(device, { m, n, k, dtype }).gflops;
const device = openDevice({ device: 'cpu' });
const info = systemInfo();
const quick = process.argv.includes('--quick');
const exe = compileOpenBlas();
log(`CPU: ${info.cpu?.model ?? device.name}; threads: ${threads} (ours and OpenBLAS)` +
  (process.env.VIT22B_CPU_ISA ? `; ISA capped at ${process.env.VIT22B_CPU_ISA}` : ''));
log('GFLOP/s = 2*M*N*K / median time per call. bf16: A and B bf16, C f32, f32 accumulation.\n');
const header = ['shape', 'M', 'N', 'K', 'ours f32', 'ours bf16', 'OpenBLAS sgemm', 'f32/OpenBLAS', 'bf16/OpenBLAS'];
const rows = [];
for (const [label, m, n, k] of quick ? SHAPES.slice(0, 1) : SHAPES) {
  const gflop = (2 * m * n * k) / 1e9;
  const f32 = oursGflops(device, 'f32', m, n, k);
  const bf16 = oursGflops(device, 'bf16', m, n, k);
  const blas = exe ? gflop / openBlasSeconds(exe, m, n, k) : NaN;
  rows.push([label, m, n, k, f32.toFixed(1), bf16.toFixed(1), exe ? blas.toFixed(1) : 'n/a',
    exe ? (f32 / blas).toFixed(2) : 'n/a', exe ? (bf16 / blas).toFixed(2) : 'n/a'].map(String));
}
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r) => r.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
log(line(header));
for (const r of rows) log(line(r));
device.dispose();
if (exe) fs.rmSync(exe, { force: true });
