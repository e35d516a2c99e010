// `npm run test:gpu`, on a machine with an NVIDIA GPU: runs the kernel table on the GPU
// (dist/kernel-checks.cjs, bundled from test/cases/ by `npm run build:ts`, which test:gpu runs
// first) and every GPU check script in this folder (test/gpu/*-checks.cjs, plain JavaScript so they
// also run where only Node.js is available), and requires every check of each to pass. Each prints
// { checks: [{ name, ok, detail }] } and compares the cuda device against the cpu backend, whose
// behaviour test/kernels and test/runtime prove on every machine.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

// The fewest checks each script must report, so a script that stops early cannot pass. The kernel
// table reports one check per case (about 1,580) and a last one for leaked buffers.
const MIN_CHECKS: Record<string, number> = {
  'kernel-checks.cjs': 1500,
  'cuda-checks.cjs': 11,
  'bench-checks.cjs': 5,
  'gemm-checks.cjs': 4,
  'optim-checks.cjs': 56,
  'elementwise-checks.cjs': 24,
  'runtime-checks.cjs': 10,
  'attention-checks.cjs': 21,
};

// The kernel table is a bundle in dist/; the hand-written scripts live next to this file.
const KERNEL_CHECKS = path.join(__dirname, '..', '..', 'dist', 'kernel-checks.cjs');
const scripts = [
  KERNEL_CHECKS,
  ...fs
    .readdirSync(__dirname)
    .filter((f) => f.endsWith('-checks.cjs'))
    .sort()
    .map((f) => path.join(__dirname, f)),
];

test('the GPU check scripts are found', () => {
  expect(fs.existsSync(KERNEL_CHECKS)).toBe(true);
  expect(scripts.map((s) => path.basename(s))).toContain('cuda-checks.cjs');
});

describe.each(scripts.map((s) => [path.basename(s), s] as const))('%s', (script, file) => {
  // ONLY would make the kernel table run a subset of its kernels: the whole table here.
  const result = fs.existsSync(file)
    ? spawnSync(process.execPath, [file], { encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, ONLY: '' } })
    : { stdout: '', stderr: `${file} does not exist (npm run build:ts builds it)` };
  const checks: Check[] = result.stdout ? (JSON.parse(result.stdout) as { checks: Check[] }).checks : [];

  test('ran to the end', () => {
    expect(result.stderr).toBe('');
    expect(checks.length).toBeGreaterThanOrEqual(MIN_CHECKS[script] ?? 1);
  });

  // jest refuses an empty table; a script that printed nothing already fails 'ran to the end'.
  if (checks.length > 0) {
    test.each(checks.map((c) => [c.name, c] as const))('%s', (_name, c) => {
      // Comparing the whole record shows the failure's detail in jest's report.
      expect(c).toEqual({ name: c.name, ok: true, detail: expect.any(String) });
    });
  }
});
