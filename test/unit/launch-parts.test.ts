/**
 * The launcher's pure parts: line prefixing across arbitrary read boundaries, which failure counts
 * as the first, the torchrun variables, Open MPI's variables restated, and the NCCL readiness check
 * `vit22b info` and `launch --comm auto` rely on.
 */
import { LinePrefixer } from '../../lib/launch/rank-output';
import { firstFailure, type RankStatus } from '../../lib/launch/rank-status';
import { rankVariables } from '../../lib/launch/rank-variables';
import { variablesFromOpenMpi } from '../../lib/launch/rank-shim';
import { mpirunArgs } from '../../lib/launch/mpirun';
import type { CudaStatus } from '../../lib/runtime/cuda-status';
import { multiProcessGpu, ncclVersionCode } from '../../lib/runtime/nccl-status';
import { mulberry32 } from '../helpers/prng';

test('LinePrefixer: any split of the bytes (inside multi-byte characters too) gives the same prefixed lines', () => {
  const text = 'step 1 loss 0.5 ✓\nüber 2\n\n日本語の行\nlast without newline';
  const bytes = Buffer.from(text, 'utf8');
  const expected = '[rank 2] step 1 loss 0.5 ✓\n[rank 2] über 2\n[rank 2] \n[rank 2] 日本語の行\n[rank 2] last without newline\n';
  const rng = mulberry32(9);
  for (let trial = 0; trial < 200; ++trial) {
    let out = '';
    const p = new LinePrefixer('[rank 2] ', (t) => void (out += t));
    for (let at = 0; at < bytes.length; ) {
      const n = 1 + Math.floor(rng() * 7);
      p.push(bytes.subarray(at, at + n));
      at += n;
    }
    p.end();
    expect(out).toBe(expected);
  }
});

test('firstFailure: the earliest failure that was not a consequence of being stopped', () => {
  const s = (rank: number, code: number | null, signal: NodeJS.Signals | null, stopped: boolean, at: string): RankStatus => ({ rank, code, signal, stopped, endedAtNs: at });
  const statuses = [
    s(0, 143, null, true, '1000'), // stopped by the teardown, earlier than everything
    s(1, 0, null, false, '10'), // finished fine
    s(2, null, 'SIGKILL', false, '500'),
    s(3, 3, null, false, '99999999999999999999'), // beyond 2^53: compared as bigints
    s(4, 3, null, false, '99999999999999999998'),
  ];
  expect(firstFailure(statuses)?.rank).toBe(2);
  expect(firstFailure(statuses.filter((x) => x.rank !== 2))?.rank).toBe(4);
  expect(firstFailure([s(0, 0, null, false, '5'), s(1, 1, null, true, '6')])).toBeUndefined();
});

test('rankVariables: global rank by node; NCCL_COMM_ID only for nccl, IPv6 bracketed', () => {
  const t = { nprocPerNode: 4, nnodes: 3, nodeRank: 2, masterAddr: 'fe80::1', masterPort: 29400 };
  expect(rankVariables(t, 3, true)).toEqual({
    RANK: '11', WORLD_SIZE: '12', LOCAL_RANK: '3', LOCAL_WORLD_SIZE: '4', GROUP_RANK: '2',
    MASTER_ADDR: 'fe80::1', MASTER_PORT: '29400', NCCL_COMM_ID: '[fe80::1]:29400',
  });
  expect(rankVariables({ ...t, masterAddr: 'node0' }, 0, false)).not.toHaveProperty('NCCL_COMM_ID');
});

test("variablesFromOpenMpi restates Open MPI's rank variables and refuses a process mpirun did not start", () => {
  const env = { OMPI_COMM_WORLD_RANK: '3', OMPI_COMM_WORLD_SIZE: '4', OMPI_COMM_WORLD_LOCAL_RANK: '3', OMPI_COMM_WORLD_LOCAL_SIZE: '4' };
  expect(variablesFromOpenMpi(env, 'h', 1)).toEqual({ RANK: '3', WORLD_SIZE: '4', LOCAL_RANK: '3', LOCAL_WORLD_SIZE: '4', GROUP_RANK: '0', MASTER_ADDR: 'h', MASTER_PORT: '1' });
  expect(() => variablesFromOpenMpi({ ...env, OMPI_COMM_WORLD_SIZE: undefined }, 'h', 1)).toThrow(/OMPI_COMM_WORLD_SIZE is not set/);
});

test('mpirunArgs: oversubscribe, no core binding, teardown delay after the grace period', () => {
  const a = mpirunArgs(4, 2500, ['node', 'x']);
  expect(a.slice(0, 5)).toEqual(['-np', '4', '--oversubscribe', '--bind-to', 'none']);
  expect(a.includes('--allow-run-as-root')).toBe(process.getuid?.() === 0);
  expect(a[a.indexOf('odls_base_sigkill_timeout') + 1]).toBe('5'); // ceil(2.5) + the 2 s backstop
  expect(a.slice(-2)).toEqual(['node', 'x']);
});

describe('multiProcessGpu', () => {
  const lib = (found: boolean, version?: string) => ({ found, version, reason: found ? undefined : 'set VIT22B_CUDA_LIBS', searched: [], failures: [] });
  const status = (over: Partial<CudaStatus>): CudaStatus => ({
    available: true,
    driverVersion: '13.0',
    runtimeVersion: '13.0',
    devices: [{ index: 0, name: 'GPU', memoryBytes: 1, smCount: 1, computeCapability: '9.0', pciBusId: '0' }],
    cublasLt: lib(true, '13.1.0'),
    nccl: lib(true, '2.27.3'),
    ...over,
  });
  test('possible with a GPU and NCCL at or above the 2.18 floor', () => {
    expect(ncclVersionCode('2.27.3')).toBe(22703);
    expect(multiProcessGpu(status({}))).toEqual({ possible: true, reason: 'NCCL 2.27.3 and 1 GPU: one process per GPU with --comm nccl' });
    expect(multiProcessGpu(status({ nccl: lib(true, '2.18.0') })).possible).toBe(true);
  });
  test('every reason why not is named', () => {
    expect(multiProcessGpu(status({ nccl: lib(true, '2.17.1') })).reason).toMatch(/NCCL 2.17.1 is older than 2.18.0/);
    const none = multiProcessGpu(status({ available: false, reason: 'no CUDA driver', devices: [], nccl: lib(false) }));
    expect(none.possible).toBe(false);
    expect(none.reason).toBe('no usable GPU (no CUDA driver); no NCCL library (set VIT22B_CUDA_LIBS)');
  });
});
