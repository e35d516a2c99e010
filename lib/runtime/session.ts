/**
 * A session: where a compiled program's memory and plans live, on one device or on every device of
 * a mesh. It owns nothing but per-device buffers and loaded plans and marshals runs: per-rank
 * inputs in, per-rank outputs out, one native call per step either way (a mesh step is ONE async
 * call that drives every device's thread, lib/runtime/mesh.ts). What the buffers mean (global
 * tensors, their slices, initialization) is the program's business (lib/graph/program.ts).
 *
 * Over a mesh of processes (Mesh.comm 'mpi' or 'nccl') the session holds this process's one device of the
 * mesh: `devices` and per-rank inputs are this process's (index i is mesh rank `meshRanks[i]`), while
 * a plan run resolves with the outputs of EVERY mesh rank (gathered from the other processes after
 * the step, a few bytes for a loss), so the program assembles outputs exactly as on one process.
 */
import type { Device } from './device';
import type { DType } from './dtype';
import { Vit22bError } from './errors';
import { coordinatesOf, type Mesh } from './mesh';
import type { NativePlan } from './plan-format';
import type { DeviceTensor } from './tensor';

export interface SessionShape {
  data: number;
  model: number;
}

export interface SessionProfileEntry {
  rank: number;
  stream: number;
  index: number;
  kernel: string;
  seconds: number;
  /** The last profiled run's span (steady-clock ns). */
  startNs: number;
  endNs: number;
}

/** A plan loaded on every device of a session. */
export interface SessionPlan {
  /**
   * inputs[i][k] for plan input k on this process's device i; resolves with outputs[rank][j] for
   * every mesh rank (the same indices on one process).
   */
  run(inputs: readonly (readonly ArrayBufferView[])[], scalars: readonly number[]): Promise<ArrayBuffer[][]>;
  setProfiling(on: boolean): void;
  profile(): { runs: number; entries: SessionProfileEntry[] };
  dispose(): void;
  /** How steps run (LoadedPlan.execution; rank 0's on a mesh). */
  readonly execution: string;
}

export class Session implements Disposable {
  readonly devices: readonly Device[];
  readonly shape: SessionShape;
  /** Named persistent buffers, one per rank. */
  private readonly buffers = new Map<string, DeviceTensor[]>();
  private readonly plans: SessionPlan[] = [];

  /** `owned`: disposed with the session (a mesh created for it). */
  constructor(
    readonly placement: Device | Mesh,
    private readonly owned?: Disposable,
  ) {
    if (isMesh(placement)) {
      this.devices = placement.devices;
      this.shape = { ...placement.shape };
    } else {
      this.devices = [placement];
      this.shape = { data: 1, model: 1 };
    }
  }

  /** Devices of this process. */
  get ranks(): number {
    return this.devices.length;
  }

  /** The mesh rank of each of this process's devices (0 .. ranks-1 on one process). */
  get meshRanks(): readonly number[] {
    const p = this.placement;
    return isMesh(p) ? p.ranks : [0];
  }

  /** True when the mesh spans several processes (its other devices' memory is out of reach). */
  get multiProcess(): boolean {
    const p = this.placement;
    return isMesh(p) && p.comm !== 'local';
  }

  /** Coordinates of this process's device i. */
  localCoordinates(i: number): { rank: number; data: number; model: number } {
    return coordinatesOf(this.shape, this.meshRanks[i]!);
  }

  /**
   * Every mesh rank's bytes (multi-process sessions: collective, every process calls it in the same
   * order with the same byte count); on one process, `bytes` for each device.
   */
  gatherBytes(bytes: ArrayBufferView): ArrayBuffer[] {
    const p = this.placement;
    if (isMesh(p)) return p.gatherBytes(bytes);
    return [new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength).slice().buffer];
  }

  /** The device of rank 0 (the one a single-device session has). */
  get device(): Device {
    return this.devices[0]!;
  }

  coordinates(rank: number): { rank: number; data: number; model: number } {
    return coordinatesOf(this.shape, rank);
  }

  /** One buffer per rank, each of the local shape. */
  alloc(dtype: DType, shape: readonly number[]): DeviceTensor[] {
    const out: DeviceTensor[] = [];
    try {
      for (const d of this.devices) out.push(d.alloc(dtype, shape));
    } catch (e) {
      for (const t of out) t.dispose();
      throw e;
    }
    return out;
  }

  /** A named buffer on every rank (ERR_INTERNAL if the name is taken). */
  allocBuffer(name: string, dtype: DType, shape: readonly number[]): DeviceTensor[] {
    if (this.buffers.has(name)) {
      throw new Vit22bError('ERR_INTERNAL', `session buffer '${name}' exists`, { expected: 'a new name', received: name });
    }
    const tensors = this.alloc(dtype, shape);
    this.buffers.set(name, tensors);
    return tensors;
  }

  /** The named buffer's tensors, rank by rank. */
  buffer(name: string): DeviceTensor[] {
    const b = this.buffers.get(name);
    if (!b) throw new Vit22bError('ERR_INTERNAL', `no session buffer '${name}'`, { expected: 'an allocated buffer', received: name });
    return b;
  }

  freeBuffer(name: string): void {
    for (const t of this.buffers.get(name) ?? []) t.dispose();
    this.buffers.delete(name);
  }

  /** Frees every loaded plan and named buffer, then what the session owns (its mesh). */
  dispose(): void {
    for (const p of this.plans.splice(0)) p.dispose();
    for (const name of [...this.buffers.keys()]) this.freeBuffer(name);
    this.owned?.[Symbol.dispose]();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** `plan` on every rank; slots[rank][i] backs slot i + 1 there. Disposed with the session. */
  loadPlan(plan: NativePlan, slots: readonly (readonly DeviceTensor[])[]): SessionPlan {
    const loaded = this.load(plan, slots);
    this.plans.push(loaded);
    return loaded;
  }

  private load(plan: NativePlan, slots: readonly (readonly DeviceTensor[])[]): SessionPlan {
    const p = this.placement;
    if (isMesh(p)) {
      const mp = p.loadPlan(plan, slots.map((s) => [...s]));
      const mesh = p;
      let runs = 0;
      return {
        run: async (inputs, scalars) => {
          const processes = mesh.comm !== 'local';
          if (processes) await faultHook(mesh.ranks[0]!, ++runs);
          const local = await mp.run(inputs.map((i) => [...i]), [...scalars]);
          return processes ? gatherOutputs(mesh, local[0]!) : local;
        },
        setProfiling: (on) => mp.setProfiling(on),
        profile: () => {
          const r = mp.profile();
          return { runs: r.runs, entries: r.entries.map((e) => ({ rank: e.rank, stream: e.stream, index: e.index, kernel: e.kernel, seconds: e.seconds, startNs: e.startNs, endNs: e.endNs })) };
        },
        dispose: () => mp.dispose(),
        get execution() {
          return mp.plans[0]!.execution;
        },
      };
    }
    const lp = p.loadPlan(plan, slots[0] ?? []);
    return {
      run: async (inputs, scalars) => [await lp.run(inputs[0] ?? [], scalars)],
      setProfiling: (on) => lp.setProfiling(on),
      profile: () => {
        const r = lp.profile();
        return { runs: r.runs, entries: r.entries.map((e) => ({ rank: 0, stream: e.stream, index: e.index, kernel: e.kernel, seconds: e.seconds, startNs: e.startNs, endNs: e.endNs })) };
      },
      dispose: () => lp.dispose(),
      get execution() {
        return lp.execution;
      },
    };
  }
}

/**
 * Test hooks of the multi-process fault tests (test/comm/mpi-faults.test.ts), read per run of a
 * plan over processes (MPI or NCCL): VIT22B_TEST_STALL="R@N:MS" makes mesh rank R sleep MS ms before its N-th run (a
 * rank that never arrives: its peers must time out), VIT22B_TEST_KILL="R@N" makes rank R SIGKILL
 * itself before its N-th run (a peer that dies while the others are mid-step). Unset: nothing.
 */
async function faultHook(rank: number, run: number): Promise<void> {
  const stall = /^(\d+)@(\d+):(\d+)$/.exec(process.env.VIT22B_TEST_STALL ?? '');
  if (stall && Number(stall[1]) === rank && Number(stall[2]) === run) {
    await new Promise((resolve) => setTimeout(resolve, Number(stall[3])));
  }
  const kill = /^(\d+)@(\d+)$/.exec(process.env.VIT22B_TEST_KILL ?? '');
  if (kill && Number(kill[1]) === rank && Number(kill[2]) === run) process.kill(process.pid, 'SIGKILL');
}

/**
 * Every process's outputs of one step, by mesh rank: this process's outputs concatenated, exchanged
 * in one host gather, cut again. Every rank of one SPMD plan has outputs of the same sizes.
 */
function gatherOutputs(mesh: Mesh, mine: readonly ArrayBuffer[]): ArrayBuffer[][] {
  const total = mine.reduce((s, b) => s + b.byteLength, 0);
  const packed = new Uint8Array(total);
  let at = 0;
  for (const b of mine) {
    packed.set(new Uint8Array(b), at);
    at += b.byteLength;
  }
  return mesh.gatherBytes(packed).map((all) => {
    let from = 0;
    return mine.map((b) => {
      const piece = all.slice(from, from + b.byteLength);
      from += b.byteLength;
      return piece;
    });
  });
}

function isMesh(p: Device | Mesh): p is Mesh {
  return Array.isArray((p as Mesh).devices);
}
