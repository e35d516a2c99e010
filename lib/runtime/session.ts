/**
 * A session: where a compiled program's memory and plans live, on one device or on every device of
 * a mesh. It owns nothing but per-device buffers and loaded plans and marshals runs: per-rank
 * inputs in, per-rank outputs out, one native call per step either way (a mesh step is ONE async
 * call that drives every device's thread, lib/runtime/mesh.ts). What the buffers mean (global
 * tensors, their slices, initialization) is the program's business (lib/graph/program.ts).
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
  /** inputs[rank][i] for plan input i on that rank; resolves with outputs[rank][j]. */
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

  get ranks(): number {
    return this.devices.length;
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
      return {
        run: (inputs, scalars) => mp.run(inputs.map((i) => [...i]), [...scalars]),
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

function isMesh(p: Device | Mesh): p is Mesh {
  return Array.isArray((p as Mesh).devices);
}
