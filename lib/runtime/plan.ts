/**
 * Running plans (lib/runtime/plan-format.ts) on a device. `Device.loadPlan` validates a plan once,
 * allocates its arena and prepares every kernel call natively (native/exec); `LoadedPlan.run` then
 * runs a whole step as ONE asynchronous N-API call that leaves the JavaScript thread free.
 *
 * While a step is in flight its device is busy: launching kernels, copying to or from its buffers,
 * disposing buffers, plans or the device, loading a plan or starting another run on it throw (or
 * reject with) ERR_DEVICE_BUSY. Await each run() before touching the device again.
 */
import { Vit22bError } from './errors';
import type { NativeDevice, NativePlanHandle } from './native-types';
import type { NativePlan } from './plan-format';
import { findHazards } from './plan-hazards';
import { DeviceTensor } from './tensor';

function planError(field: string, expected: string, received: unknown): Vit22bError {
  const text = Array.isArray(received) ? 'array' : received === null ? 'null' : typeof received;
  return new Vit22bError('ERR_INVALID_PLAN', `invalid plan: ${field}: expected ${expected}`, {
    expected,
    received: typeof received === 'number' ? String(received) : text,
  });
}

/**
 * The light TypeScript check of a plan's shape, so a plan that is not one at all fails with a clear
 * message before reaching native code (which validates everything again, and everything else:
 * slots, views, events, deadlocks, each kernel's spec).
 */
export function checkPlanShape(plan: unknown): asserts plan is NativePlan {
  if (typeof plan !== 'object' || plan === null || Array.isArray(plan)) throw planError('plan', 'an object', plan);
  const p = plan as Record<string, unknown>;
  if (p.version !== 1) throw planError('version', '1', p.version);
  for (const key of ['arenaBytes', 'events', 'scalars'] as const) {
    const v = p[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw planError(key, 'an integer >= 0', v);
  }
  for (const key of ['slotBytes', 'inputs', 'outputs'] as const) {
    if (!Array.isArray(p[key])) throw planError(key, 'an array', p[key]);
  }
  const streams = p.streams;
  if (!Array.isArray(streams) || streams.length === 0) throw planError('streams', 'a non-empty array of streams', streams);
  streams.forEach((s, i) => {
    if (!Array.isArray(s)) throw planError(`streams[${i}]`, 'an array of instructions', s);
  });
}

const raceFree = new WeakSet<NativePlan>();

/**
 * A plan of several streams must order, by events, every two instructions of different streams that
 * touch the same bytes with at least one writing (plan-hazards.ts): otherwise its results depend on
 * timing. ERR_INVALID_PLAN naming the first such pair.
 */
export function checkNoRaces(plan: NativePlan): void {
  // A mesh loads one plan object on every device: it is checked once.
  if (plan.streams.length < 2 || raceFree.has(plan)) return;
  const [h] = findHazards(plan);
  if (!h) {
    raceFree.add(plan);
    return;
  }
  throw new Vit22bError(
    'ERR_INVALID_PLAN',
    `invalid plan: stream ${h.a[0]} instruction ${h.a[1]} ('${h.notes[0]}') and stream ${h.b[0]} instruction ${h.b[1]} ('${h.notes[1]}') touch the same bytes of slot ${h.slot}, ${h.writes === 'both' ? 'both writing' : `${h.writes === 'a' ? 'the first' : 'the second'} writing`}, with no event ordering them`,
    { expected: 'an event chain ordering one before the other', received: 'unordered', race: h },
  );
}

export interface PlanProfileEntry {
  stream: number;
  index: number;
  kernel: string;
  note: string;
  /** Summed over the profiled runs. */
  seconds: number;
  /** The span of the last profiled run, in steady-clock nanoseconds (one clock for every device of the process). */
  startNs: number;
  endNs: number;
}

/** A plan loaded on a device, ready to run steps. Free its arena with dispose() (or `using`). */
export class LoadedPlan implements Disposable {
  /** Bytes of the plan's arena (slot 0), allocated on the device at load. */
  readonly arenaBytes: number;
  /** Instructions over all streams. */
  readonly instructions: number;

  /** @internal Created by Device.loadPlan. */
  constructor(
    /** @internal */ readonly native: NativePlanHandle,
    /** The plan as loaded. */
    readonly plan: NativePlan,
  ) {
    this.arenaBytes = native.arenaBytes;
    this.instructions = native.instructions;
  }

  get disposed(): boolean {
    return this.native.disposed;
  }

  /**
   * How steps run: 'serial' on the CPU; on CUDA 'streams' (direct launches, one CUDA stream per plan
   * stream: the first step, while profiling, or with VIT22B_CUDA_GRAPHS=0), 'graphs' (replayed
   * CUDA graphs, from the second step on), or 'streams (graphs off: <why>)' after a failed capture.
   */
  get execution(): string {
    return this.native.execution;
  }

  /**
   * Runs one step: uploads `inputs` (one per plan input, each exactly its view's size; copied, so
   * the arrays may be reused at once), runs every instruction, and resolves with one ArrayBuffer
   * per plan output. `scalars` are the run's dynamic scalars ({ scalar: i } in the plan), checked
   * against the range of the field each feeds. Exactly one N-API call; failures reject with a
   * Vit22bError whose message names the instruction.
   */
  run(inputs: readonly ArrayBufferView[], scalars: readonly number[] = []): Promise<ArrayBuffer[]> {
    return this.native.run(inputs, scalars);
  }

  /**
   * Per-instruction timing from the next run on (counters reset): each instruction is followed by a
   * device synchronize, so on CUDA profiled steps run slower than real ones. ERR_DEVICE_BUSY mid-run.
   */
  setProfiling(on: boolean): void {
    this.native.setProfiling(on);
  }

  /** Seconds per instruction (execution order) summed over the profiled runs, with what each was. */
  profile(): { runs: number; entries: PlanProfileEntry[] } {
    const raw = this.native.profile();
    return {
      runs: raw.runs,
      entries: raw.entries.map((e) => {
        const ins = this.plan.streams[e.stream]![e.index]!;
        return { stream: e.stream, index: e.index, kernel: ins.kernel, note: ins.note ?? '', seconds: e.ns / 1e9, startNs: e.startNs, endNs: e.endNs };
      }),
    };
  }

  /** Frees the arena (idempotent). The slot tensors stay the caller's. ERR_DEVICE_BUSY mid-run. */
  dispose(): void {
    this.native.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** Device.loadPlan's body: slots[i] is the tensor for slot i + 1 (slot 0 is the arena). */
export function loadPlan(device: NativeDevice, plan: NativePlan, slots: readonly DeviceTensor[]): LoadedPlan {
  checkPlanShape(plan);
  checkNoRaces(plan);
  if (!Array.isArray(slots)) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', 'loadPlan slots must be an array of DeviceTensors', {
      expected: 'DeviceTensor[]',
      received: typeof slots,
    });
  }
  const buffers = slots.map((t, i) => {
    if (!(t instanceof DeviceTensor)) {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', `loadPlan slots[${i}] must be a DeviceTensor`, {
        expected: 'DeviceTensor',
        received: t === null ? 'null' : typeof t,
      });
    }
    return t.buffer;
  });
  return new LoadedPlan(device.loadPlan(plan, buffers), plan);
}
