/**
 * A mesh of virtual devices in one process (SHARDING.md): `data` x `model` cpu devices, rank
 * r = d * model + m, each a real Device with its own backend, buffers and thread pool, joined by the
 * `local` communicator (native/comm/local_communicator.h). The collective kernels (all_gather,
 * reduce_scatter, all_reduce, collective_permute, axis_slice) find their peers through it; the same
 * SPMD plan loads on every device, which learns its coordinates when it runs.
 *
 * A local mesh is CPU devices only: GPU virtual devices (several ranks on one GPU in one process)
 * are not implemented; GPUs take part one per process ('nccl', below).
 *
 * `comm: 'mpi'` spreads the mesh over processes instead (native/comm/mpi_mesh.h): an MPI job of
 * data x model processes (mpirun, srun), each holding ONE device of the mesh, its MPI world rank
 * being its mesh rank. The same SPMD plan runs on it; `devices` then has one entry, `ranks` says
 * which mesh rank it is, and `gatherBytes` exchanges host bytes between the processes (global reads).
 *
 * `comm: 'nccl'` is the same over GPUs (native/comm/nccl_mesh.h): one process per GPU, its mesh rank
 * RANK, its GPU LOCAL_RANK's (lib/runtime/gpu-binding.ts) or the CUDA device given as `device`, the
 * world meeting at NCCL_COMM_ID (or MASTER_ADDR:MASTER_PORT).
 */
import type { KernelName, KernelSpec } from '../kernels/spec';
import { loadAddon, loadCpuCapableAddon } from './addon-loader';
import { Device } from './device';
import { Vit22bError } from './errors';
import { ncclRendezvous, openRankGpu } from './gpu-binding';
import { detectLaunchEnv } from './launch-env';
import type { NativeAddon, NativeBuffer, NativeMesh } from './native-types';
import { loadPlan, type LoadedPlan, type PlanProfileEntry } from './plan';
import type { NativePlan } from './plan-format';
import type { DeviceTensor } from './tensor';

export interface MeshShape {
  data: number;
  model: number;
}

export interface MeshOptions {
  /**
   * Threads of each device's own pool. Default: the kernel threads of the process
   * (VIT22B_NUM_THREADS, else the usable cores) divided evenly among the devices, at least 1.
   */
  threadsPerDevice?: number;
  /**
   * How long a rank waits in one collective for its peers before the run fails with
   * ERR_COLLECTIVE_TIMEOUT naming the ranks that never arrived. Default 300000 (5 minutes: a peer
   * may legitimately be busy with a long kernel; a deadlock still ends).
   */
  timeoutMs?: number;
  /**
   * 'local' (default): every device a virtual device of this process. 'mpi': this process holds one
   * device of a mesh of MPI processes (Open MPI opened at run time; ERR_LIBRARY_NOT_FOUND without it).
   * 'nccl': this process holds one GPU of a mesh of processes joined by NCCL (the CUDA addon and NCCL
   * 2.18+ loaded at run time).
   */
  comm?: MeshComm;
  /**
   * 'nccl' only: this process's CUDA device (the caller keeps it: the mesh does not dispose it).
   * Default: the GPU of LOCAL_RANK (gpuForRank), opened and owned by the mesh.
   */
  device?: Device;
  /** 'nccl' only: this process's mesh rank. Default: the launch environment's (RANK, ...). */
  rank?: number;
}

export type MeshComm = 'local' | 'mpi' | 'nccl';

export const MESH_COMMS: readonly MeshComm[] = ['local', 'mpi', 'nccl'];

export interface MeshCoordinates {
  rank: number;
  data: number;
  model: number;
}

export interface MeshProfileEntry extends PlanProfileEntry {
  rank: number;
}

/** The most devices a mesh may have. */
export const MAX_MESH_DEVICES = 64;

/**
 * The most devices a mesh may have when it is only planned (compiled, never run: `vit22b plan`):
 * one device's plan does not grow with the mesh, so paper-scale meshes can be accounted for here.
 */
export const MAX_PLANNED_MESH_DEVICES = 1 << 20;
export const DEFAULT_MESH_TIMEOUT_MS = 300_000;

function configError(message: string, field: string, expected: string, received: unknown): Vit22bError {
  return new Vit22bError('ERR_INVALID_CONFIG', message, { field, expected, received: String(received) });
}

/**
 * A mesh shape checked (ERR_INVALID_CONFIG naming the numbers): an object of the axes `data` and
 * `model` (a missing one is 1), integers >= 1, at most `limit` devices (MAX_MESH_DEVICES to run one;
 * MAX_PLANNED_MESH_DEVICES to compile one device's plan only). The one check of a
 * mesh shape: createMesh, compile({ mesh }) and the CLI's --mesh all use it.
 */
export function checkMeshShape(shape: unknown, limit: number = MAX_MESH_DEVICES): MeshShape {
  if (typeof shape !== 'object' || shape === null) {
    throw configError('a mesh shape must be an object { data, model }', 'shape', '{ data: number; model: number }', shape);
  }
  const given = shape as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (key !== 'data' && key !== 'model') throw configError(`unknown mesh axis '${key}'`, key, 'data, model', key);
  }
  for (const axis of ['data', 'model'] as const) {
    const v = given[axis] ?? 1;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
      throw configError(`mesh ${axis} must be an integer >= 1, got ${String(v)}`, axis, 'an integer >= 1', v);
    }
  }
  const out = { data: (given.data ?? 1) as number, model: (given.model ?? 1) as number };
  if (out.data * out.model > limit) {
    throw configError(
      `a mesh of ${out.data} x ${out.model} = ${out.data * out.model} devices is more than ${limit}`,
      'shape',
      `data * model <= ${limit}`,
      `${out.data} x ${out.model}`,
    );
  }
  return out;
}

function checkOption(name: string, v: unknown, lo: number, hi: number): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < lo || v > hi) {
    throw configError(`mesh option ${name} must be an integer in [${lo}, ${hi}], got ${String(v)}`, name, `an integer in [${lo}, ${hi}]`, v);
  }
}

/** Where rank r = d * model + m sits: (data d, model m). The one place this arithmetic lives. */
export function coordinatesOf(shape: MeshShape, rank: number): MeshCoordinates {
  return { rank, data: Math.floor(rank / shape.model), model: rank % shape.model };
}

/** Creates a mesh of shape.data x shape.model devices (see MeshOptions: virtual CPU devices, or this process's one device of a mesh over processes). */
export function createMesh(shape: MeshShape, options: MeshOptions = {}): Mesh {
  const checked = checkMeshShape(shape);
  checkOption('threadsPerDevice', options.threadsPerDevice, 1, 1024);
  checkOption('timeoutMs', options.timeoutMs, 1, 2 ** 31 - 1);
  if (options.comm !== undefined && !MESH_COMMS.includes(options.comm)) {
    throw configError(`mesh option comm must be 'local', 'mpi' or 'nccl', got ${String(options.comm)}`, 'comm', "'local' | 'mpi' | 'nccl'", options.comm);
  }
  if ((options.device !== undefined || options.rank !== undefined) && options.comm !== 'nccl') {
    throw configError("mesh options device and rank are for comm 'nccl' (one GPU per process)", options.device !== undefined ? 'device' : 'rank', "comm: 'nccl'", options.comm ?? 'local');
  }
  if (options.rank !== undefined) checkOption('rank', options.rank, 0, checked.data * checked.model - 1);
  return new Mesh(checked, options);
}

/** Per-rank argument arrays must have one entry per rank. */
function perRank<T>(what: string, xs: readonly T[], size: number): void {
  if (!Array.isArray(xs) || xs.length !== size) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `${what} must have one entry per rank of the mesh (${size})`, {
      expected: `${size} entries`,
      received: Array.isArray(xs) ? `${xs.length} entries` : typeof xs,
    });
  }
}

let finalizeHooked = false;

/**
 * MPI must be finalised before a successful exit (else mpirun reports the job as failed); a failing
 * exit skips it, so mpirun ends the job's other processes at once instead of waiting for them.
 */
function finalizeMpiAtExit(native: { mpiFinalize(): void }): void {
  if (finalizeHooked) return;
  finalizeHooked = true;
  process.once('exit', (code) => {
    if (code === 0) native.mpiFinalize();
  });
}

export class Mesh implements Disposable {
  readonly shape: MeshShape;
  /** Devices of the whole mesh (data x model), in this process or not. */
  readonly size: number;
  /** This process's devices, in rank order. Each an ordinary Device (alloc, upload, download, launch, loadPlan) outside a run. */
  readonly devices: Device[];
  /** The mesh rank of each of `devices` (0 .. size-1 for a local mesh; this process's one rank over MPI). */
  readonly ranks: readonly number[];
  readonly comm: MeshComm;
  /** Threads of each device's pool (0 over NCCL: a GPU has no pool of ours). */
  readonly threadsPerDevice: number;
  readonly timeoutMs: number;
  /** @internal */ readonly native: NativeMesh;
  /** Devices the caller lent (not disposed with the mesh). */
  private readonly borrowed: ReadonlySet<Device>;

  /** @internal Use createMesh. */
  constructor(shape: MeshShape, options: MeshOptions) {
    this.shape = Object.freeze({ ...shape });
    this.size = shape.data * shape.model;
    this.comm = options.comm ?? 'local';
    if (this.comm === 'nccl') {
      const made = openNcclPlace(shape, options);
      this.ranks = [made.rank];
      this.threadsPerDevice = 0;
      this.timeoutMs = options.timeoutMs ?? DEFAULT_MESH_TIMEOUT_MS;
      this.borrowed = new Set(options.device ? [made.device] : []);
      try {
        this.native = new made.native.MeshHandle([made.device.native], shape.data, shape.model, this.timeoutMs, 'nccl', made.rank);
      } catch (e) {
        if (!options.device) made.device.dispose();
        throw e;
      }
      this.devices = [made.device];
      return;
    }
    this.borrowed = new Set();
    const addon = loadCpuCapableAddon();
    let ranks = Array.from({ length: this.size }, (_u, r) => r);
    // Devices sharing this machine's cores: all of a local mesh; under MPI, the processes here.
    let sharing = this.size;
    if (this.comm === 'mpi') {
      const mpi = addon.native.mpiOpen();
      finalizeMpiAtExit(addon.native);
      if (mpi.size !== this.size) {
        throw new Vit22bError('ERR_INVALID_ARGUMENT', `a ${shape.data} x ${shape.model} mesh over MPI needs ${this.size} processes (one device each), but this job has ${mpi.size} (mpirun -np ${this.size})`, {
          expected: `${this.size} processes`,
          received: `${mpi.size}`,
        });
      }
      ranks = [mpi.rank];
      sharing = detectLaunchEnv().localWorldSize;
    }
    this.ranks = ranks;
    this.threadsPerDevice = options.threadsPerDevice ?? Math.max(1, Math.floor(addon.native.cpuInfo().kernelThreads / sharing));
    this.timeoutMs = options.timeoutMs ?? DEFAULT_MESH_TIMEOUT_MS;
    const devices: Device[] = [];
    try {
      for (const r of ranks) {
        const c = this.coordinates(r);
        const native = new addon.native.DeviceHandle('cpu', 0, this.threadsPerDevice);
        devices.push(
          new Device(native, {
            requested: 'cpu',
            kind: 'cpu',
            reason: `mesh ${shape.data} x ${shape.model}${this.comm === 'mpi' ? ' over MPI processes' : ''}, rank ${r} (data ${c.data}, model ${c.model})`,
            addonPath: addon.path,
          }),
        );
      }
      this.native = new addon.native.MeshHandle(
        devices.map((d) => d.native),
        shape.data,
        shape.model,
        this.timeoutMs,
        this.comm,
      );
    } catch (e) {
      for (const d of devices) d.dispose();
      throw e;
    }
    this.devices = devices;
  }

  /** Rank r's coordinates: data = floor(r / model), model = r % model. */
  coordinates(rank: number): MeshCoordinates {
    if (!Number.isSafeInteger(rank) || rank < 0 || rank >= this.size) {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', `rank ${rank} is not a rank of this ${this.shape.data} x ${this.shape.model} mesh`, {
        expected: `an integer in [0, ${this.size - 1}]`,
        received: String(rank),
      });
    }
    return coordinatesOf(this.shape, rank);
  }

  /**
   * Loads a plan on every rank: the same plan everywhere (SPMD), or one per rank (tests: a plan that
   * skips a peer). slots[rank][i] backs slot i + 1 on that rank's device. Each rank gets its own
   * validated LoadedPlan and arena (Device.loadPlan).
   */
  loadPlan(plan: NativePlan | readonly NativePlan[], slots: readonly (readonly DeviceTensor[])[]): MeshPlan {
    const plans = Array.isArray(plan) ? (plan as readonly NativePlan[]) : this.devices.map(() => plan as NativePlan);
    perRank('loadPlan plans', plans, this.devices.length);
    perRank('loadPlan slots', slots, this.devices.length);
    const loaded: LoadedPlan[] = [];
    try {
      for (let r = 0; r < this.devices.length; r++) {
        try {
          loaded.push(loadPlan(this.devices[r]!.native, plans[r]!, slots[r]!));
        } catch (e) {
          throw atRank(this, this.ranks[r]!, e);
        }
      }
    } catch (e) {
      for (const p of loaded) p.dispose();
      throw e;
    }
    return new MeshPlan(this, loaded);
  }

  /**
   * One kernel launched on every rank at once (specs[rank] names that rank's buffers). Synchronous:
   * it returns when every rank is done, so the collectives meet without a plan (the kernel harness
   * uses it). A failure on any rank aborts the others and throws the first real error, its message
   * naming the rank and its coordinates.
   */
  launch<K extends KernelName>(kernel: K, specs: readonly KernelSpec<K, NativeBuffer>[]): void {
    perRank('launch specs', specs, this.devices.length);
    this.native.launch(kernel, specs as readonly object[]);
  }

  /**
   * Every process's `bytes`, by mesh rank (a mesh over MPI; one entry per rank). Collective: every
   * process calls it, in the same order, with the same byte count. Synchronous; bounded by
   * timeoutMs (ERR_COMM_TIMEOUT). A local mesh has nothing to exchange: [bytes] per rank.
   */
  gatherBytes(bytes: ArrayBufferView): ArrayBuffer[] {
    if (this.comm === 'local') {
      const copy = new Uint8Array(bytes.byteLength);
      copy.set(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return this.devices.map(() => copy.slice().buffer);
    }
    return this.native.gatherBytes(bytes);
  }

  /** Disposes the devices (their tensors keep their memory until disposed). ERR_DEVICE_BUSY mid-run. */
  dispose(): void {
    this.native.dispose();
    for (const d of this.devices) if (!this.borrowed.has(d)) d.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * This process's place in a mesh over NCCL: its rank (option, else RANK ...), its CUDA device (the
 * one given, else LOCAL_RANK's GPU), and NCCL_COMM_ID set where the launch environment knows the
 * rendezvous (ncclRendezvous) but the launcher did not set it (srun, torchrun itself).
 */
function openNcclPlace(shape: MeshShape, options: MeshOptions): { rank: number; device: Device; native: NativeAddon } {
  const size = shape.data * shape.model;
  const launch = detectLaunchEnv();
  const rank = options.rank ?? launch.rank;
  const world = options.rank !== undefined ? size : launch.worldSize;
  if (world !== size) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `a ${shape.data} x ${shape.model} mesh over NCCL needs ${size} processes (one GPU each), but this job has ${world} (${launch.source === 'single' ? 'no launcher' : launch.source})`, {
      expected: `${size} processes`,
      received: `${world}`,
    });
  }
  if (rank >= size) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `rank ${rank} is not a rank of a ${shape.data} x ${shape.model} mesh`, { expected: `a rank in [0, ${size - 1}]`, received: String(rank) });
  }
  const address = ncclRendezvous({ ...launch, worldSize: size });
  if (address !== undefined) process.env.NCCL_COMM_ID = address;
  if (options.device && options.device.kind !== 'cuda') {
    throw configError("mesh option device must be a CUDA device for comm 'nccl'", 'device', 'a cuda device', options.device.kind);
  }
  const device = options.device ?? openRankGpu(launch);
  return { rank, device, native: loadAddon('cuda').native };
}

function atRank(mesh: Mesh, rank: number, e: unknown): unknown {
  if (!(e instanceof Vit22bError)) return e;
  const c = mesh.coordinates(rank);
  return new Vit22bError(e.code, `rank ${rank} (data ${c.data}, model ${c.model}): ${e.message}`, { ...e.details, rank });
}

/** A plan loaded on every rank of a mesh. */
export class MeshPlan implements Disposable {
  /** @internal Created by Mesh.loadPlan. */
  constructor(
    readonly mesh: Mesh,
    /** Rank order. */
    readonly plans: readonly LoadedPlan[],
  ) {}

  /**
   * One step on every rank as ONE asynchronous N-API call: the ranks run at once on threads of the
   * mesh's own, each uploading inputs[rank], running its plan and downloading its outputs; resolves
   * with outputs[rank][i]. Over MPI, "every rank" is this process's one device (index 0); its peers
   * run the same step in their own processes. `scalars` are the run scalars of every rank. The first failure anywhere
   * aborts the collectives of the others (they stop at their next one instead of waiting), and the
   * promise rejects with that failure's code, its message naming the rank, its coordinates
   * ('rank 1 (data 0, model 1)') and the instruction. Bad inputs reject before anything runs.
   */
  run(inputs: readonly (readonly ArrayBufferView[])[], scalars: readonly number[] = []): Promise<ArrayBuffer[][]> {
    try {
      perRank('mesh run inputs', inputs, this.mesh.devices.length);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.mesh.native.run(
      this.plans.map((p) => p.native),
      inputs,
      scalars,
    );
  }

  /** Per-instruction timing on every rank from the next run on (LoadedPlan.setProfiling). */
  setProfiling(on: boolean): void {
    for (const p of this.plans) p.setProfiling(on);
  }

  /** Seconds per instruction of every rank, summed over the profiled runs. */
  profile(): { runs: number; entries: MeshProfileEntry[] } {
    const entries: MeshProfileEntry[] = [];
    let runs = 0;
    this.plans.forEach((p, rank) => {
      const one = p.profile();
      runs = Math.max(runs, one.runs);
      for (const e of one.entries) entries.push({ rank: this.mesh.ranks[rank]!, ...e });
    });
    return { runs, entries };
  }

  /** Frees every rank's arena (idempotent). ERR_DEVICE_BUSY mid-run. */
  dispose(): void {
    for (const p of this.plans) p.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
