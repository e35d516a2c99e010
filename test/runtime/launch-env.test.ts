// lib/runtime/launch-env.ts: rank, world size, local rank and the master address read from explicit
// options, torchrun's, Open MPI's and SLURM's variables, in that order; SLURM's compressed node lists
// expanded; bad values typed (ERR_INVALID_CONFIG naming the variable).
import { detectLaunchEnv, expandSlurmNodelist, firstSlurmHost } from '../../lib/runtime/launch-env';
import type { Vit22bError } from '../../lib/runtime/errors';

function thrown(f: () => unknown): Vit22bError {
  try {
    f();
  } catch (e) {
    return e as Vit22bError;
  }
  throw new Error('did not throw');
}

const torchrun = { RANK: '3', WORLD_SIZE: '8', LOCAL_RANK: '1', LOCAL_WORLD_SIZE: '2', MASTER_ADDR: 'node07', MASTER_PORT: '29500' };
const ompi = { OMPI_COMM_WORLD_RANK: '2', OMPI_COMM_WORLD_SIZE: '4', OMPI_COMM_WORLD_LOCAL_RANK: '0', OMPI_COMM_WORLD_LOCAL_SIZE: '2' };
const slurm = { SLURM_PROCID: '5', SLURM_NTASKS: '6', SLURM_LOCALID: '2', SLURM_TASKS_PER_NODE: '3(x2)', SLURM_STEP_NODELIST: 'gpu[07-08],login' };

describe('launch environment', () => {
  it('alone: rank 0 of 1', () => {
    expect(detectLaunchEnv({}, {})).toEqual({ rank: 0, worldSize: 1, localRank: 0, localWorldSize: 1, source: 'single' });
  });
  it("reads torchrun's variables", () => {
    expect(detectLaunchEnv({}, torchrun)).toEqual({ rank: 3, worldSize: 8, localRank: 1, localWorldSize: 2, masterAddr: 'node07', masterPort: 29500, source: 'torchrun' });
  });
  it("reads Open MPI's, and SLURM's with the first host of the step's node list as master", () => {
    expect(detectLaunchEnv({}, ompi)).toEqual({ rank: 2, worldSize: 4, localRank: 0, localWorldSize: 2, source: 'openmpi' });
    expect(detectLaunchEnv({}, slurm)).toEqual({ rank: 5, worldSize: 6, localRank: 2, localWorldSize: 3, masterAddr: 'gpu07', source: 'slurm' });
    // MASTER_ADDR set by the user wins over the node list; SLURM_NTASKS_PER_NODE over TASKS_PER_NODE.
    expect(detectLaunchEnv({}, { ...slurm, MASTER_ADDR: '10.0.0.9', SLURM_NTASKS_PER_NODE: '4' })).toMatchObject({ masterAddr: '10.0.0.9', localWorldSize: 4 });
  });
  it('takes the first source in the order options, torchrun, Open MPI, SLURM', () => {
    const all = { ...slurm, ...ompi, ...torchrun };
    expect(detectLaunchEnv({}, all).source).toBe('torchrun');
    expect(detectLaunchEnv({}, { ...slurm, ...ompi }).source).toBe('openmpi');
    expect(detectLaunchEnv({ rank: 1, worldSize: 2 }, all)).toMatchObject({ rank: 1, worldSize: 2, localRank: 1, localWorldSize: 2, source: 'options' });
    // One explicit field overrides only itself.
    expect(detectLaunchEnv({ masterPort: 1234 }, torchrun)).toMatchObject({ rank: 3, masterPort: 1234, source: 'torchrun' });
  });
  it('without local variables, one machine holds every process', () => {
    expect(detectLaunchEnv({}, { RANK: '2', WORLD_SIZE: '3' })).toMatchObject({ rank: 2, worldSize: 3, localRank: 2, localWorldSize: 3 });
  });
  it('refuses malformed and inconsistent values, naming the variable', () => {
    const cases: [Record<string, string>, string][] = [
      [{ RANK: 'one', WORLD_SIZE: '2' }, 'RANK'],
      [{ RANK: '2', WORLD_SIZE: '2' }, 'RANK'],
      [{ RANK: '0' }, 'WORLD_SIZE'],
      [{ RANK: '0', WORLD_SIZE: '0' }, 'WORLD_SIZE'],
      [{ RANK: '0', WORLD_SIZE: '2', LOCAL_RANK: '2', LOCAL_WORLD_SIZE: '2' }, 'LOCAL_RANK'],
      [{ RANK: '0', WORLD_SIZE: '2', LOCAL_WORLD_SIZE: '3' }, 'LOCAL_WORLD_SIZE'],
      [{ RANK: '0', WORLD_SIZE: '2', MASTER_PORT: '70000' }, 'MASTER_PORT'],
      [{ RANK: '0', WORLD_SIZE: '2', MASTER_PORT: '-1' }, 'MASTER_PORT'],
      [{ ...slurm, SLURM_STEP_NODELIST: 'gpu[07-' }, 'SLURM_STEP_NODELIST'],
    ];
    for (const [env, field] of cases) {
      const e = thrown(() => detectLaunchEnv({}, env));
      expect({ field, code: e.code, detail: e.details.field }).toEqual({ field, code: 'ERR_INVALID_CONFIG', detail: field });
      expect(e.message).toContain(field);
    }
  });
});

describe('SLURM node lists', () => {
  it('expands ranges, keeps zero padding, lists and plain names, in order', () => {
    expect(expandSlurmNodelist('node[01-03,7]')).toEqual(['node01', 'node02', 'node03', 'node7']);
    expect(expandSlurmNodelist('login,gpu[9-11],cpu5')).toEqual(['login', 'gpu9', 'gpu10', 'gpu11', 'cpu5']);
    expect(expandSlurmNodelist('rack[1-2]-n[08-09]')).toEqual(['rack1-n08', 'rack1-n09', 'rack2-n08', 'rack2-n09']);
    expect(expandSlurmNodelist('single')).toEqual(['single']);
  });
  it('the first host, without expanding the rest', () => {
    expect(firstSlurmHost('node[01-03,7],x')).toBe('node01');
    expect(firstSlurmHost('a,b')).toBe('a');
  });
  it('refuses what is not a node list', () => {
    for (const bad of ['n[1-', 'n]1[', 'n[a-b]', 'n[3-1]']) expect(thrown(() => expandSlurmNodelist(bad)).code).toBe('ERR_INVALID_CONFIG');
  });
});
