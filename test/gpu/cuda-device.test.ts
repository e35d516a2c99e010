// `npm run test:gpu`, on a machine with an NVIDIA GPU: runs the GPU checks (test/gpu/cuda-checks.cjs,
// plain JavaScript so they also run where only Node.js is available) and requires every one to pass.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

const result = spawnSync(process.execPath, [path.join(__dirname, 'cuda-checks.cjs')], { encoding: 'utf8' });
const checks: Check[] = result.stdout ? (JSON.parse(result.stdout) as { checks: Check[] }).checks : [];

test('the GPU check script ran', () => {
  expect(result.stderr).toBe('');
  expect(checks.length).toBeGreaterThanOrEqual(11);
});

test.each(checks.map((c) => [c.name, c] as const))('%s', (_name, c) => {
  // Comparing the whole record shows the failure's detail in jest's report.
  expect(c).toEqual({ name: c.name, ok: true, detail: expect.any(String) });
});
