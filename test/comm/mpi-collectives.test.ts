/**
 * The `mpi` communicator's collectives (native/comm/mpi_communicator.*) in a real 4-process
 * `mpirun` job, meshes 2 x 2 and 1 x 4 (an axis of 4): all_reduce (also in place), reduce_scatter,
 * all_gather and collective_permute over both axes, f32 and bf16, on random inputs, against a naive float64
 * reference (mpi-collectives-child.cjs); and the host gather behind global reads. Tolerances: one
 * rounding per term of the sum (f32 n * 2^-21, bf16 2^-5 more, for sums below 16 in magnitude);
 * gathers and permutes exact.
 */
import { describeMpi, runMpi } from './mpi-harness';
import * as path from 'node:path';

interface Check {
  name: string;
  worst: number;
  tol: number;
  n: number;
  ok: boolean;
}

describeMpi('mpi communicator collectives (mpirun -np 4)', () => {
  it.each(['2x2', '1x4'])('mesh %s: every collective on both axes matches a float64 reference on every rank, f32 and bf16', async (mesh) => {
    const job = await runMpi(4, path.join(__dirname, 'mpi-collectives-child.cjs'), { VIT22B_TEST_MESH: mesh });
    expect(job.stderr).not.toContain('ERROR');
    expect(job.code).toBe(0);
    expect([...job.results.keys()].sort()).toEqual([0, 1, 2, 3]);
    for (const [rank, r] of job.results) {
      const checks = (r as { results: Check[] }).results;
      // 2 dtypes x 2 axes x (all_reduce, in place, reduce_scatter, all_gather, permute) + gatherBytes
      expect(checks).toHaveLength(21);
      for (const c of checks) {
        expect({ rank, name: c.name, ok: c.ok, worst: c.worst }).toEqual({ rank, name: c.name, ok: true, worst: c.worst });
        expect(c.worst).toBeLessThanOrEqual(c.tol);
      }
    }
    expect(job.leftovers).toEqual([]);
  }, 120_000);
});
