/**
 * The `nccl` backend's wiring, on a machine without a GPU: which backend `--comm auto` picks and why
 * (GPUs asked through an injected status, so every branch runs here), which GPU a rank drives
 * (gpuForRank), where the world meets (ncclRendezvous), the refusals of createMesh / compile /
 * MeshHandle, and `vit22b train --comm nccl` failing typed, never hanging. What NCCL itself does is
 * the fake-NCCL test's (test/native/nccl-communicator.test.ts) and, on a GPU, the device check's.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

import { chooseComm } from '../../lib/cli/comm-option';
import { addonCandidates, tryLoadAddon } from '../../lib/runtime/addon-loader';
import { cudaStatus } from '../../lib/runtime/cuda-status';
import { Vit22bError } from '../../lib/runtime/errors';
import { thrownBy } from '../helpers/errors';
import { gpuForRank, ncclAddress, ncclRendezvous } from '../../lib/runtime/gpu-binding';
import { createMesh } from '../../lib/runtime/mesh';
import { DIST_CLI } from '../helpers/paths';

const thrown = (f: () => unknown) => thrownBy(f) as Vit22bError;

const GPUS = () => ({ possible: true, reason: 'NCCL 2.27.3 and 8 GPUs: one process per GPU with --comm nccl' });
const NO_GPUS = () => ({ possible: false, reason: 'no usable GPU (a test)' });
const torchrun = (rank: number, size: number) => ({ RANK: String(rank), WORLD_SIZE: String(size), LOCAL_RANK: String(rank), LOCAL_WORLD_SIZE: String(size), MASTER_ADDR: '10.0.0.1', MASTER_PORT: '29500' });
const mpirun = (rank: number, size: number) => ({ OMPI_COMM_WORLD_RANK: String(rank), OMPI_COMM_WORLD_SIZE: String(size), OMPI_COMM_WORLD_LOCAL_RANK: String(rank), OMPI_COMM_WORLD_LOCAL_SIZE: String(size) });

describe('--comm auto and --comm nccl', () => {
  test('auto: nccl for a rank of several that may use a GPU, saying why; mpi for CPU ranks under mpirun', () => {
    const launched = chooseComm({}, { data: 2, model: 2 }, 'u', torchrun(3, 4), GPUS);
    expect(launched).toMatchObject({ comm: 'nccl', requested: 'auto' });
    expect(launched.reason).toBe('this process is rank 3 of 4 started by a torchrun-style launcher (WORLD_SIZE=4); NCCL 2.27.3 and 8 GPUs: one process per GPU with --comm nccl');
    // mpirun on a GPU machine: GPUs over NCCL too (the rendezvous comes from MASTER_ADDR/PORT).
    expect(chooseComm({}, { data: 2, model: 1 }, 'u', mpirun(0, 2), GPUS).comm).toBe('nccl');
    // --device cpu never asks about GPUs.
    const cpu = chooseComm({ device: 'cpu' }, { data: 2, model: 1 }, 'u', mpirun(0, 2), () => {
      throw new Error('GPUs were asked about under --device cpu');
    });
    expect(cpu.comm).toBe('mpi');
    // No GPU: mpi under mpirun, saying why not NCCL.
    const noGpu = chooseComm({}, { data: 2, model: 1 }, 'u', mpirun(1, 2), NO_GPUS);
    expect(noGpu.comm).toBe('mpi');
    expect(noGpu.reason).toBe('this process is rank 1 of 2 started by mpirun (OMPI_COMM_WORLD_SIZE=2) (not NCCL: no usable GPU (a test))');
    // One process: local, whatever the GPUs (not even asked).
    expect(chooseComm({}, { data: 2, model: 1 }, 'u', {}, () => {
      throw new Error('asked');
    }).comm).toBe('local');
    // torchrun-style ranks without GPUs have nothing to talk through.
    const stuck = thrown(() => chooseComm({}, { data: 2, model: 1 }, 'u', torchrun(0, 2), NO_GPUS));
    expect(stuck.code).toBe('ERR_NOT_IMPLEMENTED');
    expect(stuck.message).toContain('GPUs over NCCL are not possible here (no usable GPU (a test))');
  });

  test('--comm nccl needs a mesh of the job size, several processes for several devices, and not --device cpu', () => {
    expect(chooseComm({ comm: 'nccl' }, { data: 2, model: 2 }, 'u', torchrun(1, 4)).comm).toBe('nccl');
    expect(chooseComm({ comm: 'nccl' }, { data: 1, model: 1 }, 'u', {}).comm).toBe('nccl');
    const cases: [Parameters<typeof chooseComm>, string][] = [
      [[{ comm: 'nccl' }, undefined, 'u', torchrun(0, 2)], '--comm nccl needs --mesh (one GPU per process'],
      [[{ comm: 'nccl' }, { data: 2, model: 2 }, 'u', torchrun(0, 2)], 'has 4 devices, but a torchrun-style launcher (WORLD_SIZE=2) started 2 processes (one GPU per process)'],
      [[{ comm: 'nccl' }, { data: 2, model: 1 }, 'u', {}], 'needs 2 processes, one per GPU: start them with `vit22b launch --nproc-per-node 2 -- train ...`'],
      [[{ comm: 'nccl', device: 'cpu' }, { data: 2, model: 1 }, 'u', torchrun(0, 2)], '--comm nccl runs one GPU per process; --device cpu asks for none'],
      [[{ comm: 'local' }, { data: 2, model: 1 }, 'u', torchrun(0, 2)], 'use --comm nccl or mpi (or auto)'],
    ];
    for (const [args, message] of cases) {
      const e = thrown(() => chooseComm(...args));
      expect(e.code).toBe('ERR_USAGE');
      expect(e.message).toContain(message);
    }
  });
});

describe('which GPU a rank drives (gpuForRank)', () => {
  test("LOCAL_RANK's GPU; the only visible GPU when the launcher gave each rank one; refused past the GPUs", () => {
    expect(gpuForRank({ localRank: 3, localWorldSize: 8 }, 8, {})).toEqual({ ordinal: 3, reason: 'LOCAL_RANK 3 of 8 on this machine: GPU 3 of the 8 it sees' });
    expect(gpuForRank({ localRank: 0, localWorldSize: 1 }, 1, {}).ordinal).toBe(0);
    const own = gpuForRank({ localRank: 5, localWorldSize: 8 }, 1, { CUDA_VISIBLE_DEVICES: '5' });
    expect(own).toEqual({ ordinal: 0, reason: 'the one GPU this process sees (CUDA_VISIBLE_DEVICES=5) (LOCAL_RANK 5: the launcher gave each rank a GPU of its own)' });
    const past = thrown(() => gpuForRank({ localRank: 4, localWorldSize: 8 }, 4, {}));
    expect(past.code).toBe('ERR_INVALID_CONFIG');
    expect(past.message).toBe('LOCAL_RANK 4, but this process sees only 4 GPUs: one process per GPU (--nproc-per-node at most 4)');
    expect(past.details).toMatchObject({ field: 'LOCAL_RANK', expected: 'LOCAL_RANK < 4', received: '4' });
    expect(thrown(() => gpuForRank({ localRank: 0, localWorldSize: 1 }, 0, { CUDA_VISIBLE_DEVICES: '' })).code).toBe('ERR_CUDA_UNAVAILABLE');
  });
});

describe('where the NCCL world meets (ncclRendezvous)', () => {
  test("the launcher's NCCL_COMM_ID, else MASTER_ADDR:MASTER_PORT (IPv6 bracketed); none for one rank; refused without an address", () => {
    const launch = { worldSize: 4, masterAddr: '10.0.0.1', masterPort: 29500, source: 'torchrun' as const };
    expect(ncclRendezvous(launch, { NCCL_COMM_ID: 'node7:4000' })).toBe('node7:4000');
    expect(ncclRendezvous(launch, {})).toBe('10.0.0.1:29500');
    expect(ncclRendezvous({ ...launch, masterAddr: 'fe80::1' }, {})).toBe('[fe80::1]:29500');
    expect(ncclAddress('[::1]', 1)).toBe('[::1]:1');
    expect(ncclRendezvous({ worldSize: 1, source: 'single' }, {})).toBeUndefined();
    const none = thrown(() => ncclRendezvous({ worldSize: 2, source: 'openmpi' }, {}));
    expect(none.code).toBe('ERR_INVALID_CONFIG');
    expect(none.message).toContain('2 processes over NCCL need a rendezvous address: set MASTER_ADDR');
    expect(none.details).toMatchObject({ received: 'MASTER_ADDR=(unset), MASTER_PORT=(unset)' });
  });
});

describe('meshes over NCCL refuse what cannot work, typed', () => {
  test('createMesh: device and rank are for nccl only; rank in range; world size checked before any GPU is opened', () => {
    expect(thrown(() => createMesh({ data: 2, model: 1 }, { rank: 0 })).code).toBe('ERR_INVALID_CONFIG');
    expect(thrown(() => createMesh({ data: 2, model: 1 }, { comm: 'mpi', rank: 0 })).message).toContain("mesh options device and rank are for comm 'nccl'");
    expect(thrown(() => createMesh({ data: 2, model: 1 }, { comm: 'nccl', rank: 2 })).message).toContain('mesh option rank must be an integer in [0, 1]');
    // This test process is alone (no launcher): a 2-device mesh needs 2 processes.
    const alone = thrown(() => createMesh({ data: 2, model: 1 }, { comm: 'nccl' }));
    expect(alone.code).toBe('ERR_INVALID_ARGUMENT');
    expect(alone.message).toContain('a 2 x 1 mesh over NCCL needs 2 processes (one GPU each), but this job has 1');
  });

  test('createMesh 1x1 over NCCL: on a machine without a usable GPU, the typed CUDA refusal', () => {
    if (cudaStatus().available) return; // a GPU machine runs the real thing (device check)
    const e = thrown(() => createMesh({ data: 1, model: 1 }, { comm: 'nccl' }));
    expect(e.code).toBe('ERR_CUDA_UNAVAILABLE');
  });

  test('MeshHandle: nccl needs the CUDA addon, a CUDA device and a rank of the mesh', () => {
    const cpu = tryLoadAddon('cpu')!.native;
    const d = new cpu.DeviceHandle('cpu', 0);
    try {
      const e = thrown(() => new cpu.MeshHandle([d], 1, 1, 1000, 'nccl', 0));
      expect(e.code).toBe('ERR_NOT_IMPLEMENTED');
      expect(e.message).toContain('a mesh over NCCL needs the CUDA addon');
      expect(thrown(() => new cpu.MeshHandle([d], 1, 1, 1000, 'gloo' as 'nccl')).message).toContain("a mesh's backend must be 'local', 'mpi' or 'nccl'");
    } finally {
      d.dispose();
    }
    const cudaFile = addonCandidates('cuda').find((f) => fs.existsSync(f));
    if (cudaFile === undefined && process.env.VIT22B_SKIP_CUDA === '1') return; // built without the CUDA addon, as asked
    const cuda = tryLoadAddon('cuda');
    expect(cuda).toBeDefined();
    const c = new cuda!.native.DeviceHandle('cpu', 0);
    try {
      const wrongKind = thrown(() => new cuda!.native.MeshHandle([c], 1, 1, 1000, 'nccl', 0));
      expect(wrongKind.code).toBe('ERR_INVALID_ARGUMENT');
      expect(wrongKind.message).toBe("a mesh over NCCL holds this process's CUDA device");
      expect(thrown(() => new cuda!.native.MeshHandle([c], 2, 1, 1000, 'nccl', 2)).message).toBe('rank 2 is not a rank of a 2 x 1 mesh');
    } finally {
      c.dispose();
    }
  });
});

describe('vit22b train --comm nccl', () => {
  test('one process asked for a mesh of two: a usage error naming the launcher, at once', () => {
    const r = spawnSync(process.execPath, [DIST_CLI, 'train', '--mesh', 'data=2', '--comm', 'nccl', '--steps', '1'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--comm nccl with --mesh 2x1 needs 2 processes, one per GPU');
  });

  test('two launched ranks on a machine without a usable GPU: each fails typed (no hang), the launcher names a rank', () => {
    if (cudaStatus().available) return; // a GPU machine runs the real thing (device check)
    const r = spawnSync(process.execPath, [DIST_CLI, 'launch', '--nproc-per-node', '2', '--comm', 'nccl', '--master-port', '29571', '--', 'train', '--mesh', 'data=2', '--comm', 'nccl', '--steps', '1', '--progress', 'none'], { encoding: 'utf8', timeout: 90_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/ERR_CUDA_UNAVAILABLE/);
    // openDevice's reason (no driver, no device, ...), not a bare "no GPU".
    expect(r.stderr).toContain('CUDA is unavailable: ');
    expect(r.stderr).toMatch(/rank [01] failed first/);
  });
});
