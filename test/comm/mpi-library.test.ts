/**
 * Open MPI is opened at run time (native/comm/mpi_library.*): the addon loads and local meshes work
 * whatever MPI there is, and --comm mpi without a usable libmpi is ERR_LIBRARY_NOT_FOUND naming the
 * file tried and why. VIT22B_MPI_LIBRARY names exactly one file (never silently another); a child
 * process each, since jest's process.env does not reach native getenv.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { DIST_INDEX, describeMpi, runMpi } from './mpi-harness';

const SCRIPT = `
const vit = require(${JSON.stringify(DIST_INDEX)});
const out = {};
try { vit.createMesh({ data: 2, model: 1 }, { comm: 'mpi' }); out.mpi = 'created'; }
catch (e) { out.mpi = { code: e.code, message: e.message }; }
const m = vit.createMesh({ data: 2, model: 1 });
out.local = { comm: m.comm, devices: m.devices.length };
m.dispose();
console.log(JSON.stringify(out));
`;

function attempt(library: string): { mpi: { code: string; message: string }; local: { comm: string; devices: number } } {
  const r = spawnSync(process.execPath, ['-e', SCRIPT], { env: { ...process.env, VIT22B_MPI_LIBRARY: library }, encoding: 'utf8', timeout: 30_000 });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout);
}

describe('Open MPI opened at run time', () => {
  it('a missing library: ERR_LIBRARY_NOT_FOUND naming it, and local meshes still work', () => {
    const r = attempt('/nonexistent/libmpi.so.40');
    expect(r.mpi.code).toBe('ERR_LIBRARY_NOT_FOUND');
    expect(r.mpi.message).toContain('/nonexistent/libmpi.so.40: ');
    expect(r.mpi.message).toContain('cannot open shared object file');
    expect(r.local).toEqual({ comm: 'local', devices: 2 });
  });
  it('a library that is not Open MPI: refused, naming what it lacks', () => {
    const r = attempt('libz.so.1');
    expect(r.mpi.code).toBe('ERR_LIBRARY_NOT_FOUND');
    expect(r.mpi.message).toContain('libz.so.1: lacks MPI_Init_thread');
    expect(r.local).toEqual({ comm: 'local', devices: 2 });
  });
});

describeMpi('a mesh over MPI of another size than the job', () => {
  it('every process refuses it with ERR_INVALID_ARGUMENT naming both sizes', async () => {
    const job = await runMpi(3, path.join(__dirname, 'mpi-mesh-size-child.cjs'), {});
    expect(job.code).toBe(0);
    expect([...job.results.keys()].sort()).toEqual([0, 1, 2]);
    for (const r of job.results.values()) {
      expect((r as { got: unknown }).got).toEqual({
        code: 'ERR_INVALID_ARGUMENT',
        message: 'a 2 x 1 mesh over MPI needs 2 processes (one device each), but this job has 3 (mpirun -np 2)',
      });
    }
    expect(job.leftovers).toEqual([]);
  }, 60_000);
});
