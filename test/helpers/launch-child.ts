/** Runs raw kernel launches in a child process (test/kernels/launch-child.cjs) with its own env. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { REPO_ROOT } from './paths';

export interface ChildJob {
  kernel: string;
  /** Scalars and non-buffer fields of the spec. */
  spec: Record<string, unknown>;
  /** Buffers by spec field name; each is uploaded, launched on, and returned. */
  buffers: Record<string, ArrayBufferView>;
}

const CHILD = path.join(REPO_ROOT, 'test', 'kernels', 'launch-child.cjs');

/** Each job's buffers after its launch, as raw bytes (base64), so runs compare bitwise. */
export function runLaunchChild(jobs: ChildJob[], env: Record<string, string>): Record<string, string>[] {
  if (!fs.existsSync(path.join(REPO_ROOT, 'dist', 'index.js'))) {
    throw new Error('dist/ is missing: run `npx tsup` before these tests');
  }
  const input = jobs.map((j) => ({
    kernel: j.kernel,
    spec: j.spec,
    buffers: Object.fromEntries(
      Object.entries(j.buffers).map(([k, v]) => [k, Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')]),
    ),
  }));
  const r = spawnSync(process.execPath, [CHILD], {
    input: JSON.stringify(input),
    encoding: 'utf8',
    env: { ...process.env, ...env },
    maxBuffer: 1 << 28,
  });
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
  const parsed = JSON.parse(r.stdout) as { outputs?: Record<string, string>[]; error?: { code: string; message: string } };
  if (parsed.error) throw new Error(`child kernel error ${parsed.error.code}: ${parsed.error.message}`);
  return parsed.outputs!;
}
