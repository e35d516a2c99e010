// The kernel table under jest: every kernel the CPU addon launches (device.native.kernels()) must
// have a case file test/cases/<kernel>.ts, and every case there must match its float64 reference
// with outputs poisoned and inputs left untouched (test/cases/run-case.ts does the work; the GPU
// runner, dist/kernel-checks.cjs, shares it). One jest test per case, named `<kernel> <case>`.
//
//   VIT22B_CASES=gemm,gelu_fwd npx jest test/kernels/table.test.ts   # only those kernels
import * as fs from 'node:fs';
import * as path from 'node:path';

import { createMesh, openDevice } from '../../lib';
import type { KernelCases } from '../cases/case-types';
import { caseFileProblems, checkCase, checkMeshCase, coverageKey, NOT_CASE_FILES, selectKernels } from '../cases/run-case';

const CASES_DIR = path.join(__dirname, '..', 'cases');
const device = openDevice({ device: 'cpu' });
const table = device.native.kernels();
const selected = selectKernels(table, process.env.VIT22B_CASES);

const checked = new Set<string>();
let passed = 0;
let ran = 0;

afterAll(() => {
  expect(device.stats()).toMatchObject({ liveBuffers: 0, reclaimedByGc: 0 });
  device.dispose();
  console.log(
    `kernel table: ${passed} of ${ran} cases passed; ${checked.size} kernel x dtype x layout combinations checked` +
      ` (${selected.kernels.length} of ${table.length} kernels)`,
  );
});

/** The case file's default export, undefined when the file does not exist (a load error throws). */
function load(kernel: string): KernelCases | undefined {
  const file = path.join(CASES_DIR, `${kernel}.ts`);
  if (!fs.existsSync(file)) return undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(file) as { default: KernelCases }).default;
}

test('VIT22B_CASES names only kernels of the table', () => {
  expect(selected.unknown).toEqual([]);
});

test('every case file in test/cases/ names a kernel of the table', () => {
  const files = fs.readdirSync(CASES_DIR).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3));
  expect(files.filter((f) => !NOT_CASE_FILES.includes(f) && !table.includes(f))).toEqual([]);
});

describe.each(selected.kernels)('%s', (kernel) => {
  let loaded: KernelCases | undefined;
  let loadError: Error | undefined;
  try {
    loaded = load(kernel);
  } catch (e) {
    loadError = e as Error;
  }
  const problems = loadError
    ? [`test/cases/${kernel}.ts fails to load: ${loadError.message}`]
    : caseFileProblems(kernel, loaded, `test/cases/${kernel}.ts`);

  test('case file', () => {
    if (problems.length > 0) throw new Error(problems.join('\n'));
  });

  // A plain loop, not test.each: case names may hold '%', which test.each would format.
  for (const c of problems.length === 0 ? loaded!.cases : []) {
    test(c.name, () => {
      ran++;
      const failures = checkCase(device, kernel, c);
      if (failures.length > 0) throw new Error(`${kernel} ${c.name}:\n  ${failures.join('\n  ')}`);
      passed++;
      checked.add(coverageKey(kernel, c));
    });
  }

  // Collectives on a whole mesh: a fresh mesh per case (2 threads per device, so the reductions'
  // parallel path runs too), checked against the float64 reference of every rank.
  for (const c of problems.length === 0 ? (loaded!.meshCases ?? []) : []) {
    test(c.name, () => {
      ran++;
      const mesh = createMesh(c.mesh, { threadsPerDevice: 2, timeoutMs: 20_000 });
      try {
        const failures = checkMeshCase(mesh, kernel, c);
        if (failures.length > 0) throw new Error(`${kernel} ${c.name}:\n  ${failures.join('\n  ')}`);
        for (const d of mesh.devices) expect(d.stats()).toMatchObject({ liveBuffers: 0, reclaimedByGc: 0 });
      } finally {
        mesh.dispose();
      }
      passed++;
      checked.add(`${kernel} ${c.dtype} ${c.layout} (mesh)`);
    });
  }
});
