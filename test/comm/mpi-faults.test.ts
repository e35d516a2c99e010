/**
 * Faults of a multi-process run (`--comm mpi`): nothing hangs, every survivor's error is typed and
 * names itself. Training jobs of mpi-train-child.cjs on a 2x1 mesh over `mpirun -np 2`, with the
 * test hooks of lib/runtime/session.ts:
 *   - a rank that never arrives (VIT22B_TEST_STALL: rank 1 sleeps 60 s before its 3rd step): rank 0
 *     exits with ERR_COMM_TIMEOUT after the comm timeout (5 s) naming the collective, the axis,
 *     itself, the step and the rank whose data never came; mpirun then ends the sleeper;
 *   - a rank SIGKILLed mid-run (VIT22B_TEST_KILL: rank 1 kills itself before its 3rd step, while
 *     rank 0 is already in that step's collectives). What Open MPI 4.1 does, recorded here: by
 *     default mpirun notices the death at once and kills the rest of the job itself (exit 137,
 *     "process rank 1 ... exited on signal 9"), so no survivor lives to report; with
 *     `mpirun --enable-recovery` the survivor stays, and our deadline ends it with ERR_COMM_TIMEOUT
 *     (over shared memory a dead peer returns no MPI error, it just never sends).
 *   - a non-finite loss on ONE data shard (VIT22B_TEST_NAN_STEP: a NaN image in shard 1's half of
 *     step 3's batch): the decision to stop is agreed by construction, because the loss the step
 *     checks is already reduced over the mesh on the devices, so every rank stops at the same step and
 *     instruction with ERR_NON_FINITE (none waits for a peer that stopped; no timeout).
 * Every case: the job ends well within its bound and no process of it is left behind.
 */
import * as path from 'node:path';
import { describeMpi, runMpi } from './mpi-harness';

const CHILD = path.join(__dirname, 'mpi-train-child.cjs');
// Steps of this model take well under a second even on a loaded CI machine.
const TIMEOUT_MS = 5000;
const base = { VIT22B_TEST_MESH: '2x1', VIT22B_TEST_COMM: 'mpi', VIT22B_TEST_COMM_TIMEOUT_MS: String(TIMEOUT_MS) };
// Start-up (node, the addon, MPI, compiling the model) plus two steps stays well below this.
const BOUND_MS = 30_000;
const TIMEOUT_MESSAGE =
  /ERR_COMM_TIMEOUT rank 0 \(data 0, model 0\): .*(all_reduce|all_gather|reduce_scatter|collective_permute) on mesh axis 'data' at rank 0 \(data 0, model 0\) \(axis rank 0 of 2\), run 3: timed out after 5000 ms waiting for its peers; no data from: rank 1 \(data 1, model 0\)/;

describeMpi('multi-process faults: typed errors, no hang, nothing left behind', () => {
  it('a rank that never arrives: its peer exits with ERR_COMM_TIMEOUT naming the collective, axis, itself, the step and the missing rank', async () => {
    const job = await runMpi(2, CHILD, { ...base, VIT22B_TEST_STALL: `1@3:60000` }, 90_000);
    expect(job.stderr).toMatch(TIMEOUT_MESSAGE);
    expect(job.code).not.toBe(0);
    // Far below the sleeper's 60 s: the deadline, not the peer, ended the run.
    expect(job.ms).toBeLessThan(BOUND_MS);
    // Only rank 0 reported (rank 1 was still asleep when mpirun ended it), failing at step 3.
    expect([...job.results.keys()]).toEqual([0]);
    expect(job.results.get(0)).toMatchObject({ failedStep: 3, code: 'ERR_COMM_TIMEOUT' });
    expect(job.leftovers).toEqual([]);
  }, 120_000);

  it('a NaN on one data shard: every rank stops at the same step and instruction with ERR_NON_FINITE', async () => {
    const job = await runMpi(2, CHILD, { ...base, VIT22B_TEST_NAN_STEP: '3' }, 90_000);
    expect(job.code).not.toBe(0);
    expect(job.stderr).not.toContain('ERR_COMM_TIMEOUT');
    expect(job.ms).toBeLessThan(BOUND_MS);
    const decisions = [0, 1].map((r) => job.results.get(r) as { failedStep: number; code: string; message: string } | undefined);
    for (const [r, d] of decisions.entries()) {
      expect(d).toBeDefined();
      expect(d!.failedStep).toBe(3);
      expect(d!.code).toBe('ERR_NON_FINITE');
      expect(d!.message).toMatch(new RegExp(`^rank ${r} \\(data ${r}, model 0\\): stream 0, instruction \\d+ \\('#\\d+ assert_finite \\(update\\)'\\): loss is NaN`));
    }
    const at = (m: string) => /instruction (\d+)/.exec(m)![1];
    expect(at(decisions[0]!.message)).toBe(at(decisions[1]!.message));
    expect(job.leftovers).toEqual([]);
  }, 120_000);

  it('a rank SIGKILLed mid-run: mpirun ends the whole job at once, naming the dead rank', async () => {
    const job = await runMpi(2, CHILD, { ...base, VIT22B_TEST_KILL: '1@3' }, 90_000);
    expect(job.stderr).toMatch(/process rank 1 with PID \d+ on node \S+ exited on signal 9/);
    expect(job.code).toBe(137);
    expect(job.ms).toBeLessThan(BOUND_MS);
    // The survivor never got to report: mpirun killed it first.
    expect(job.results.size).toBe(0);
    expect(job.leftovers).toEqual([]);
  }, 120_000);

  it('a rank SIGKILLed under mpirun --enable-recovery: the survivor ends itself with ERR_COMM_TIMEOUT', async () => {
    const job = await runMpi(2, CHILD, { ...base, VIT22B_TEST_KILL: '1@3' }, 90_000, ['--enable-recovery']);
    expect(job.stderr).toMatch(TIMEOUT_MESSAGE);
    expect(job.ms).toBeLessThan(BOUND_MS);
    expect([...job.results.keys()]).toEqual([0]);
    expect(job.results.get(0)).toMatchObject({ failedStep: 3, code: 'ERR_COMM_TIMEOUT' });
    expect(job.leftovers).toEqual([]);
  }, 120_000);
});
