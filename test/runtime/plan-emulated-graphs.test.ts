// The CUDA executor's logic, proven on the CPU: with VIT22B_CPU_PLAN_RUNTIME=1 a cpu device runs plans
// through native/cpu/emulated_plan_runtime.h, which does what the CUDA runtime does except the GPU
// work (dynamic scalars as pointers into a run-scalar block or into plan memory, the step cut into
// segments at assert_finite, a direct first run, then segments "captured" as recordings of frozen
// kernel arguments and replayed without invoking the prepared calls). Every result must be bitwise
// the plain CPU executor's, and a run scalar out of range must still be refused on a replay.
// The switch is read by native code, so each configuration runs in a child process over dist/.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { REPO_ROOT } from '../helpers/paths';

interface ChildOut {
  training: { losses: number[]; params: string[]; modes: string[] };
  axpby: {
    outputs: string[];
    modes: string[];
    rangeError: string;
    profiled: { output: string; runs: number; mode: string };
  };
}

function runChild(env: Record<string, string>): ChildOut {
  const dist = path.join(REPO_ROOT, 'dist', 'index.js');
  if (!fs.existsSync(dist)) throw new Error('dist/ is missing: run `npx tsup` before these tests');
  const childEnv: Record<string, string | undefined> = { ...process.env, VIT22B_DIST: dist, ...env };
  if (!('VIT22B_CPU_PLAN_RUNTIME' in env)) delete childEnv.VIT22B_CPU_PLAN_RUNTIME;
  if (!('VIT22B_CUDA_GRAPHS' in env)) delete childEnv.VIT22B_CUDA_GRAPHS;
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'test', 'helpers', 'emulated-graphs-child.cjs')], {
    encoding: 'utf8',
    env: childEnv,
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`child failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as ChildOut;
}

let plain: ChildOut, emulated: ChildOut, graphsOff: ChildOut;
beforeAll(() => {
  plain = runChild({});
  emulated = runChild({ VIT22B_CPU_PLAN_RUNTIME: '1' });
  graphsOff = runChild({ VIT22B_CPU_PLAN_RUNTIME: '1', VIT22B_CUDA_GRAPHS: '0' });
}, 300_000);

test('the plain executor runs serially', () => {
  expect(new Set([...plain.training.modes, ...plain.axpby.modes])).toEqual(new Set(['serial']));
});

test('an AdamW step with clipping replayed from recordings gives bitwise the plain losses and parameters', () => {
  const t = emulated.training;
  expect(t.modes[0]).toBe('streams'); // the direct warm-up run
  expect(t.modes.slice(1)).toEqual(Array(t.modes.length - 1).fill('graphs'));
  expect(t.losses).toEqual(plain.training.losses);
  expect(t.params).toEqual(plain.training.params);
  expect(t.losses[t.losses.length - 1]!).toBeLessThan(t.losses[0]!);
});

test('replays pick up each run\'s { scalar } and { read } values', () => {
  expect(emulated.axpby.modes).toEqual(['streams', 'graphs', 'graphs', 'graphs']);
  expect(emulated.axpby.outputs).toEqual(plain.axpby.outputs);
});

test('a run scalar out of range is refused on a replay too', () => {
  expect(plain.axpby.rangeError).toBe('ERR_INVALID_ARGUMENT');
  expect(emulated.axpby.rangeError).toBe('ERR_INVALID_ARGUMENT');
});

test('profiling runs directly, with the same numbers', () => {
  expect(emulated.axpby.profiled.runs).toBe(1);
  expect(emulated.axpby.profiled.output).toBe(plain.axpby.profiled.output);
});

test('VIT22B_CUDA_GRAPHS=0 runs every step directly, with the same numbers, and says so', () => {
  const off = 'streams (graphs off: VIT22B_CUDA_GRAPHS=0)';
  expect(new Set([...graphsOff.training.modes, ...graphsOff.axpby.modes])).toEqual(new Set([off]));
  expect(graphsOff.training.losses).toEqual(plain.training.losses);
  expect(graphsOff.training.params).toEqual(plain.training.params);
  expect(graphsOff.axpby.outputs).toEqual(plain.axpby.outputs);
});
