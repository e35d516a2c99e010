/**
 * The kernel table on the GPU: bundled by tsup (with every case file, via the generated
 * index.gen.ts) into dist/kernel-checks.cjs, which runs with plain node on a GPU machine without
 * node_modules. Each case runs on the cpu and the cuda device with poisoned outputs, and the cuda
 * outputs must match the cpu ones within `gpuTolerance ?? tolerance` (the cpu matches the float64
 * references under jest: test/kernels/table.test.ts). Prints { checks: [...] } and exits 1 on any
 * failure, like test/gpu/*-checks.cjs, whose harness (check-harness.cjs) it loads at run time.
 *
 *   node dist/kernel-checks.cjs                                    # on a GPU machine
 *   VIT22B_GPU_CHECKS_DEVICE=cpu node dist/kernel-checks.cjs      # dry run: 'cuda' is a 2nd cpu
 *   ONLY=gemm,axpby node dist/kernel-checks.cjs                   # only those kernels
 */
import * as path from 'node:path';

import type { Device } from '../../lib';
import type { KernelCase } from './case-types';
import { CASE_FILES } from './index.gen';
import { caseFileProblems, compareOutputs, coverageKey, runCase, selectKernels } from './run-case';

interface Harness {
  check(name: string, fn: () => string | void): void;
  record(name: string, ok: boolean, detail?: string): void;
  finish(): void;
  openDevices(): { cpu: Device; gpu: Device };
}

// Loaded at run time, not bundled: the harness finds dist/index.js next to this bundle and owns the
// dry-run switch, so every GPU script opens its devices the same way.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const harness = require(path.join(__dirname, '..', 'test', 'gpu', 'check-harness.cjs')) as Harness;

/** cuda against cpu for one case: the failures (none: ok). */
function compareDevices(cpu: Device, gpu: Device, kernel: string, c: KernelCase): string[] {
  const onCpu = runCase(cpu, kernel, c);
  const onGpu = runCase(gpu, kernel, c);
  const failures = onGpu.inputsWritten.map((n) => `the cuda kernel wrote to 'in' buffer '${n}'`);
  // The cpu's outputs ('out' and 'inout' buffers) stand in for the reference.
  const expected = Object.fromEntries(Object.entries(onCpu.final).filter(([n]) => c.buffers[n]!.role !== 'in'));
  return failures.concat(compareOutputs(c, onGpu.final, expected, c.gpuTolerance ?? c.tolerance));
}

function main(): void {
  const { cpu, gpu } = harness.openDevices();
  try {
    const table = gpu.native.kernels();
    const { kernels, unknown } = selectKernels(table, process.env.ONLY);
    if (unknown.length > 0) harness.record('ONLY names kernels of the table', false, `not kernels: ${unknown.join(', ')}`);
    if (!process.env.ONLY) {
      const stray = Object.keys(CASE_FILES).filter((k) => !table.includes(k));
      if (stray.length > 0) harness.record('every case file names a kernel', false, `no such kernel: ${stray.join(', ')}`);
    }
    const combos = new Set<string>();
    let cases = 0;
    for (const kernel of kernels) {
      const problems = caseFileProblems(kernel, CASE_FILES[kernel], `test/cases/${kernel}.ts`);
      if (problems.length > 0) {
        harness.record(`${kernel} case file`, false, problems.join('; '));
        continue;
      }
      // Mesh cases (collectives over several ranks) run on the CPU only, under jest: CUDA virtual-
      // device collectives are not implemented (the CUDA kernels take ranks 1, checked here).
      const meshCases = CASE_FILES[kernel]!.meshCases ?? [];
      if (meshCases.length > 0) {
        harness.record(`${kernel}: ${meshCases.length} mesh cases skipped`, true, 'CUDA virtual-device collectives are not implemented yet');
      }
      for (const c of CASE_FILES[kernel]!.cases) {
        harness.check(`${kernel} ${c.name}`, () => {
          const failures = compareDevices(cpu, gpu, kernel, c);
          if (failures.length > 0) throw new Error(failures.join('; '));
          cases++;
          combos.add(coverageKey(kernel, c));
        });
      }
    }
    harness.check('no buffer left behind', () => {
      for (const d of [cpu, gpu]) {
        const s = d.stats();
        if (s.liveBuffers !== 0) throw new Error(`${d.kind} device: ${s.liveBuffers} live buffers`);
      }
      return `${cases} cases agree: ${combos.size} kernel x dtype x layout combinations, ${kernels.length} kernels`;
    });
  } finally {
    gpu.dispose();
    cpu.dispose();
  }
  harness.finish();
}

main();
