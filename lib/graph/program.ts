/**
 * A compiled program: persistent buffers (parameters, gradients, optimizer state, constants) that
 * live across steps, and one loaded plan per set of input shapes, on one device or on every device
 * of a mesh (its session, lib/runtime/session.ts, holds the buffers and plans). A step is
 * `run(inputs, scalars)`: one asynchronous native call that uploads the inputs, runs every kernel
 * and resolves with the outputs, leaving the JavaScript thread free meanwhile.
 *
 * The program speaks global tensors: under a mesh, `read` assembles a buffer from the devices'
 * slices and `write` cuts one (passes/partition.ts's layouts), `run` splits the global batch over
 * the data axis and assembles the outputs, and parameters start from the values of the unsharded
 * program (the same seed gives the same weights on any mesh).
 */
import type { Device } from '../runtime/device';
import type { Session, SessionPlan } from '../runtime/session';
import { allocHostArray, DTYPE_BYTES, type DType, type HostArray } from '../runtime/dtype';
import { toBf16 } from '../runtime/bf16';
import { Vit22bError } from '../runtime/errors';
import { checkMemoryFits } from '../runtime/memory-supply';
import { derivedRunScalar } from '../train/optimizers';
import { randomInit } from '../runtime/ops/random';
import type { DeviceTensor } from '../runtime/tensor';
import type { Graph } from './ir';
import type { LoweredProgram } from './passes/lower';
import type { MemoryPlan, PersistentBuffer } from './passes/memory-plan';
import type { WindowReport } from './passes/windows';
import type { PartitionResult } from './passes/partition';
import type { RingReport } from './passes/ring';
import type { PrefetchReport } from './passes/prefetch';
import { chromeTrace, type ChromeTrace } from './timeline';
import { dataShardShape, placeFromDevice, sliceForDevice, type DimLayout, type MeshCoordinates, type MeshShape } from './sharding';
import { numel, sameShape, shapeText, type Shape } from './types';

/** An input given with its shape (for programs compiled per input shape), or a flat host array. */
export type ProgramInput = HostArray | { data: HostArray; shape: Shape };
export type ProgramInputs = Record<string, ProgramInput>;

/** What running a plan needs from the runtime: a plan loaded on every device of the session. */
export type PlanRunner = SessionPlan;

/** Where a step's time goes: per op (and kernel), seconds per step, largest first. */
export interface ProfileRow {
  op: string;
  kernel: string;
  phase: string;
  calls: number;
  secondsPerStep: number;
}

/**
 * What a variant computes: the whole training step, the forward pass alone (evaluation), or forward
 * and backward of a micro-batch whose gradients are added to the accumulators (programs compiled
 * with `train.accumulate`; the next 'train' run applies their mean).
 */
export type ProgramMode = 'train' | 'forward' | 'accumulate';

const MODES: readonly ProgramMode[] = ['train', 'forward', 'accumulate'];

/** One compiled shape variant. */
export interface CompiledVariant {
  key: string;
  mode: ProgramMode;
  graph: Graph;
  memory: MemoryPlan;
  lowered: LoweredProgram;
  /** What the windows pass did (undefined when it was off). */
  windows?: { report: WindowReport };
  /** Under a mesh: how inputs are split and outputs assembled (passes/partition.ts). */
  partition?: PartitionResult;
  /** With overlap 'ring' | 'bidirectional' under a mesh: the collective matmuls written (passes/ring.ts). */
  ring?: RingReport;
  /** With ZeRO-3 and overlap other than 'none': the weight gathers moved one layer ahead (passes/prefetch.ts). */
  prefetch?: PrefetchReport;
  runner: PlanRunner;
}

export interface MemoryReport {
  /** The activation arena of the largest variant (planned, reported before any run). */
  arenaBytes: number;
  /** Parameters, gradients, optimizer state and constants held by ONE device (under a mesh, its slices). */
  persistentBytes: number;
  /** What the arena would need without reusing memory between values. */
  unsharedBytes: number;
}

/** One persistent buffer as the devices hold it (Program.slices). */
export interface BufferSlices {
  shape: Shape;
  dtype: DType;
  dims: readonly DimLayout[];
  mesh: MeshShape;
  ranks: { coords: MeshCoordinates; read(): HostArray; write(data: HostArray): void }[];
}

/** A stable per-name Philox offset, so a parameter's initial values do not depend on creation order. */
export function nameOffset(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; ++i) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export class Program implements Disposable {
  private readonly variants = new Map<string, CompiledVariant>();
  /** What each persistent buffer holds; the session holds the buffers themselves, one per rank. */
  private readonly specs = new Map<string, PersistentBuffer>();
  private disposed = false;

  /** @internal Built by compile(). */
  constructor(
    readonly session: Session,
    private readonly build: (shapes: Record<string, Shape>, mode: ProgramMode) => Omit<CompiledVariant, 'runner'>,
    private readonly seed: number,
    private readonly defaultKey: string,
    /** The mode run() uses unless told: 'train' for programs compiled with `train`. */
    readonly defaultMode: ProgramMode,
    /** Compiled with train.accumulate: run mode 'accumulate' exists. */
    readonly accumulates = false,
  ) {}

  /** The device (rank 0's under a mesh). */
  get device(): Device {
    return this.session.device;
  }

  /** The mesh the program runs on ({ data: 1, model: 1 } on one device). */
  get mesh(): MeshShape {
    return { ...this.session.shape };
  }

  private microBatches = 0;

  /** Micro-batches accumulated since the last 'train' run (the next one averages over this + 1). */
  get accumulatedMicroBatches(): number {
    return this.microBatches;
  }

  /**
   * Drops the accumulated gradients (zeroes every `gradacc/` buffer): what a trainer does when it
   * abandons a step whose last micro-batch was rejected.
   */
  discardAccumulated(): void {
    this.live();
    for (const [name, spec] of this.specs) if (name.startsWith('gradacc/')) for (const t of this.session.buffer(name)) t.upload(allocHostArray(spec.type.dtype, numel(spec.type.shape)));
    this.microBatches = 0;
  }

  /** @internal Compiles (or finds) the variant for these input shapes and mode. */
  variant(shapes: Record<string, Shape>, mode: ProgramMode = this.defaultMode, beforeLoad?: (built: Omit<CompiledVariant, 'runner'>) => void): CompiledVariant {
    const key = `${mode}|${shapeKey(shapes)}`;
    let v = this.variants.get(key);
    if (v) return v;
    this.live();
    const built = this.build(shapes, mode);
    // Everything that can be checked without memory is checked before any is allocated.
    beforeLoad?.(built);
    this.checkMemory(built);
    const perSlot = built.memory.persistent.map((p) => this.persistentTensors(p));
    const slots = this.session.devices.map((_d, r) => perSlot.map((ts) => ts[r]!));
    const runner: PlanRunner = this.session.loadPlan(built.lowered.plan, slots);
    v = { ...built, runner };
    this.variants.set(key, v);
    return v;
  }

  /**
   * The planned need of a variant (its arena, plus the persistent buffers not allocated yet), per
   * device, against what the device can supply: refused before allocating (lib/runtime/memory-supply).
   */
  private checkMemory(built: Omit<CompiledVariant, 'runner'>): void {
    const fresh = built.memory.persistent.filter((p) => !this.specs.has(p.name));
    const buffers = fresh.reduce((s, p) => s + numel(p.type.shape) * DTYPE_BYTES[p.type.dtype], 0);
    const arena = built.memory.arenaBytes;
    // Ranks that share one physical device (a virtual mesh on one CPU or card) add up.
    const device = this.session.devices[0]!;
    const sharing = this.session.devices.filter((d) => d === device || (d.kind === 'cpu' && device.kind === 'cpu')).length;
    checkMemoryFits(device, (arena + buffers) * sharing, { arena: arena * sharing, buffers: buffers * sharing });
  }

  /** How many input-shape variants have been compiled (each has its own plan and arena). */
  get variantCount(): number {
    return this.variants.size;
  }

  /** @internal The persistent tensors backing a variant's slots 1.. (tests load tampered plans on them). */
  slotTensors(v: CompiledVariant): DeviceTensor[] {
    return v.memory.persistent.map((p) => this.buffer(p.name).tensors[0]!);
  }

  /** The variant compiled first (the shapes and mode given to compile). */
  get main(): CompiledVariant {
    return this.variants.get(`${this.defaultMode}|${this.defaultKey}`)!;
  }

  get memory(): MemoryReport {
    const all = [...this.variants.values()];
    return {
      arenaBytes: Math.max(0, ...all.map((v) => v.memory.arenaBytes)),
      persistentBytes: [...this.specs.keys()].reduce((s, name) => s + this.session.buffer(name)[0]!.bytes, 0),
      unsharedBytes: Math.max(0, ...all.map((v) => v.memory.unsharedBytes)),
    };
  }

  /** Starts (or stops) timing every kernel of the main variant's steps. */
  setProfiling(on: boolean): void {
    this.live();
    this.main.runner.setProfiling(on);
  }

  /** The main variant's profile, grouped by op, kernel and phase (see LoadedPlan.setProfiling). */
  profile(): ProfileRow[] {
    this.live();
    const { runs, entries } = this.main.runner.profile();
    const origins = this.main.lowered.streamOrigins;
    const rows = new Map<string, ProfileRow>();
    for (const e of entries) {
      if (e.rank !== 0) continue;
      const { op, phase } = origins[e.stream]?.[e.index] ?? { op: '?', phase: '?' };
      const key = `${op}|${e.kernel}|${phase}`;
      const row = rows.get(key) ?? { op, kernel: e.kernel, phase, calls: 0, secondsPerStep: 0 };
      row.calls++;
      row.secondsPerStep += runs > 0 ? e.seconds / runs : 0;
      rows.set(key, row);
    }
    return [...rows.values()].sort((a, b) => b.secondsPerStep - a.secondsPerStep);
  }

  /**
   * The last profiled step of the main variant as a Chrome trace (timeline.ts): one track per device
   * and plan stream. Turn profiling on, run a step, then call this.
   */
  timeline(): ChromeTrace {
    this.live();
    const { entries } = this.main.runner.profile();
    if (!entries.some((e) => e.endNs > 0)) {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', 'no profiled step to draw: call setProfiling(true) and run a step first', { expected: 'a profiled run', received: 'none' });
    }
    return chromeTrace({ entries, origins: this.main.lowered.streamOrigins, coordinates: (r) => this.session.coordinates(r) });
  }

  /** Names of the persistent buffers (parameters, `grad/...`, optimizer state). */
  bufferNames(): string[] {
    return [...this.specs.keys()];
  }

  /** Names of the trainable parameters. */
  parameterNames(): string[] {
    return [...this.specs.values()].filter((spec) => spec.kind === 'param').map((spec) => spec.name);
  }

  /** The (global) shape of a persistent buffer. */
  bufferShape(name: string): Shape {
    const spec = this.buffer(name).spec;
    return spec.layout?.shape ?? spec.type.shape;
  }

  /** A persistent buffer's storage type. */
  bufferDType(name: string): DType {
    return this.buffer(name).spec.type.dtype;
  }

  /** What a persistent buffer holds: a parameter, optimizer state, a gradient or a constant. */
  bufferKind(name: string): PersistentBuffer['kind'] {
    return this.buffer(name).spec.kind;
  }

  /**
   * A persistent buffer's contents as the global tensor (bf16 as raw bits); under a mesh, assembled
   * from the devices' slices. Over MPI processes a sharded buffer's read is COLLECTIVE: every process
   * must read the same buffers in the same order (the slices of the others are gathered to all of
   * them: each process then holds the same global tensor, so whatever follows, a checkpoint, a
   * metric, stays identical on every rank). A replicated buffer is read locally.
   */
  read(name: string): HostArray {
    const b = this.buffer(name);
    const layout = b.spec.layout;
    if (!layout) return b.tensors[0]!.download();
    const global = allocHostArray(b.spec.type.dtype, numel(layout.shape));
    if (this.session.multiProcess) {
      const mine = b.tensors[0]!.download();
      const all = this.session.gatherBytes(mine);
      const ranks = layout.dims.some((d) => d?.axis === 'data') ? all.length : this.session.shape.model;
      for (let r = 0; r < ranks; ++r) {
        const slice = allocHostArray(b.spec.type.dtype, mine.length);
        new Uint8Array(slice.buffer, slice.byteOffset, slice.byteLength).set(new Uint8Array(all[r]!));
        placeFromDevice(global, slice, layout.shape, layout.dims, this.session.shape, this.session.coordinates(r));
      }
      return global;
    }
    // Without a split over data (ZeRO-3), the data-rank-0 devices hold every distinct slice.
    const ranks = layout.dims.some((d) => d?.axis === 'data') ? this.session.ranks : this.session.shape.model;
    for (let r = 0; r < ranks; ++r) {
      placeFromDevice(global, b.tensors[r]!.download(), layout.shape, layout.dims, this.session.shape, this.session.coordinates(r));
    }
    return global;
  }

  /**
   * What each device holds of a persistent buffer, without assembling the global tensor (sharded
   * checkpoints, lib/io/sharded-checkpoint.ts): the global shape and dtype, how it is split, and per
   * rank its coordinates and a reader and writer of its local slice.
   */
  slices(name: string): BufferSlices {
    const b = this.buffer(name);
    const shape = b.spec.layout?.shape ?? b.spec.type.shape;
    return {
      shape,
      dtype: b.spec.type.dtype,
      dims: b.spec.layout?.dims ?? shape.map(() => null),
      mesh: this.session.shape,
      ranks: b.tensors.map((t, r) => ({ coords: this.session.localCoordinates(r), read: () => t.download(), write: (a: HostArray) => t.upload(a) })),
    };
  }

  /** Overwrites a persistent buffer with a global tensor (a checkpoint restore, a test setting weights). */
  write(name: string, data: HostArray): void {
    const b = this.buffer(name);
    const layout = b.spec.layout;
    if (!layout) {
      for (const t of b.tensors) t.upload(data);
      return;
    }
    const want = numel(layout.shape);
    if (!ArrayBuffer.isView(data) || data.length !== want) {
      throw new Vit22bError('ERR_SHAPE_MISMATCH', `buffer '${name}' holds ${want} elements`, { expected: `${want} elements`, received: ArrayBuffer.isView(data) ? `${data.length} elements` : typeof data });
    }
    b.tensors.forEach((t, r) => t.upload(sliceForDevice(data, layout.shape, layout.dims, this.session.shape, this.session.localCoordinates(r))));
  }

  /**
   * One step: uploads `inputs`, runs the plan, resolves with every named output. `mode: 'forward'`
   * runs the forward pass alone on the same parameters (evaluation; compiled on first use).
   *
   * `shard: true` (a program over processes, MPI or NCCL, only): `inputs` are this process's data
   * shard, not the global batch: the rows of its data coordinate d, i.e. rows [d * B/t, (d+1) * B/t)
   * of the global batch of B rows over a data axis of t (every input is split over data on its
   * first dimension; a shape given is the shard's). Then no process builds, holds or uploads more
   * than its own rows (the global batch of a paper-scale run does not fit one host); the outputs
   * are the same global ones.
   */
  async run(inputs: ProgramInputs, scalars: Record<string, number> = {}, options: { mode?: ProgramMode; shard?: boolean } = {}): Promise<Record<string, HostArray>> {
    this.live();
    const shard = options.shard === true;
    if (shard && !this.session.multiProcess) {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', 'run({ shard: true }) is for a program over processes (MPI or NCCL), each fed its own data shard; on one process every shard is here: pass the global batch', {
        expected: 'a multi-process session, or shard: false',
        received: `a session of ${this.session.ranks} device(s) in this process`,
      });
    }
    if (typeof inputs !== 'object' || inputs === null) {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', 'run takes an object of named inputs', { expected: 'Record<string, HostArray>', received: String(inputs) });
    }
    const mode = options.mode ?? this.defaultMode;
    if (!MODES.includes(mode)) {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', "run mode must be 'train', 'forward' or 'accumulate'", { expected: MODES.join(' | '), received: String(mode) });
    }
    if (mode === 'accumulate' && !this.accumulates) {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', "run mode 'accumulate' needs a program compiled with train.accumulate", {
        expected: 'train: { ..., accumulate: true }',
        received: this.defaultMode === 'forward' ? 'a forward-only program' : 'accumulate: false',
      });
    }
    const payloads = (w: Pick<CompiledVariant, 'lowered' | 'partition'>) =>
      w.lowered.inputs.map(({ name, value }) => {
        const layout = w.partition?.inputs.get(name);
        const n = shard ? numel(dataShardShape(name, layout?.shape ?? value.shape, layout?.dims, this.session.shape.data)) : numel(layout?.shape ?? value.shape);
        return hostPayload(name, inputFlat(inputs[name]!), value.dtype, n);
      });
    // A wrong input is refused before a new variant's arena is allocated, not after.
    let checked: ReturnType<typeof payloads> | undefined;
    const shapes = this.shapesOf(inputs);
    if (shard) {
      // A shard's shape given: the global batch is t of them (a flat array has the compiled, global shape).
      for (const name of Object.keys(shapes)) {
        if (!ArrayBuffer.isView(inputs[name])) shapes[name] = [shapes[name]![0]! * this.session.shape.data, ...shapes[name]!.slice(1)];
      }
    }
    const v = this.variant(shapes, mode, (built) => void (checked = payloads(built)));
    const arrays = checked ?? payloads(v);
    // Inputs are split over data only (passes/partition.ts): the ranks of one data shard share its
    // slices, cut once per step.
    const cut = new Map<number, ArrayBufferView[]>();
    // Given the global batch, a process over MPI or NCCL cuts its own shard too (the data loader is
    // deterministic, so every process reads the same batch); the trainer feeds shards instead
    // (shard: true).
    const perRank = this.session.devices.map((_d, r) => {
      if (shard) return arrays as ArrayBufferView[]; // this process's one device, fed its own rows
      const c = this.session.localCoordinates(r);
      let mine = cut.get(c.data);
      if (!mine) {
        mine = v.lowered.inputs.map(({ name }, i) => {
          const layout = v.partition?.inputs.get(name);
          const a = arrays[i]! as HostArray;
          return layout ? sliceForDevice(a, layout.shape, layout.dims, this.session.shape, c) : a;
        });
        cut.set(c.data, mine);
      }
      return mine;
    });
    const scalarValues = v.lowered.scalars.map(({ name, factor }) => this.scalarValue(name, scalars) * factor);
    const raw = assembleOutputs(v, await v.runner.run(perRank, scalarValues), this.session.shape);
    // Counted only once the run has succeeded: a rejected micro-batch added nothing.
    if (mode === 'accumulate') this.microBatches++;
    if (mode === 'train') this.microBatches = 0;
    const out: Record<string, HostArray> = {};
    v.lowered.outputs.forEach(({ name, value }, i) => {
      const host = allocHostArray(value.dtype, raw[i]!.byteLength / DTYPE_BYTES[value.dtype]);
      new Uint8Array(host.buffer, host.byteOffset, host.byteLength).set(new Uint8Array(raw[i]!));
      out[name] = host;
    });
    return out;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.session.dispose();
    this.variants.clear();
    this.specs.clear();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /**
   * The value of run scalar `name`: given by the caller, except 'gradMean' (1 / the micro-batches
   * of this step, from the program's own count); one the caller does not give may be derived by an
   * optimizer module (Adafactor's decay from 'step', lib/train/optimizers/adafactor.ts).
   */
  private scalarValue(name: string, scalars: Record<string, number>): number {
    let s: number | undefined = scalars[name];
    if (name === 'gradMean') s = 1 / (this.microBatches + 1);
    else if (s === undefined) s = derivedRunScalar(name, scalars);
    if (typeof s !== 'number' || !Number.isFinite(s)) {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', `run needs the scalar '${name}'`, { expected: 'a finite number', received: String(s) });
    }
    return s;
  }

  private live(): void {
    if (this.disposed) throw new Vit22bError('ERR_DISPOSED', 'this program was disposed', { expected: 'a live program', received: 'disposed' });
  }

  private buffer(name: string) {
    this.live();
    const spec = this.specs.get(name);
    if (!spec) {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', `no persistent buffer named '${name}'`, {
        expected: `one of ${this.bufferNames().slice(0, 20).join(', ')}${this.specs.size > 20 ? ', ...' : ''}`,
        received: name,
      });
    }
    return { spec, tensors: this.session.buffer(name) };
  }

  /** Input shapes: given ones, else those the default variant was compiled for. */
  private shapesOf(inputs: ProgramInputs): Record<string, Shape> {
    const main = this.main;
    const shapes: Record<string, Shape> = {};
    for (const { name, value } of main.lowered.inputs) {
      const given = inputs[name];
      if (given === undefined) {
        throw new Vit22bError('ERR_INVALID_ARGUMENT', `missing input '${name}'`, {
          expected: main.lowered.inputs.map((i) => i.name).join(', '),
          received: Object.keys(inputs).join(', ') || '(none)',
        });
      }
      // A flat array has the shape the program was compiled for: the global one under a mesh.
      shapes[name] = ArrayBuffer.isView(given) ? (main.partition?.inputs.get(name)?.shape ?? value.shape) : (given as { shape: Shape }).shape;
    }
    for (const name of Object.keys(inputs)) {
      if (!(name in shapes)) {
        throw new Vit22bError('ERR_INVALID_ARGUMENT', `unknown input '${name}'`, { expected: Object.keys(shapes).join(', '), received: name });
      }
    }
    return shapes;
  }

  /** The buffer of a persistent value on every rank, initialized on first use. */
  private persistentTensors(p: PersistentBuffer): DeviceTensor[] {
    const have = this.specs.get(p.name);
    if (have) {
      if (!sameShape(have.type.shape, p.type.shape) || have.type.dtype !== p.type.dtype) {
        throw new Vit22bError('ERR_SHAPE_MISMATCH', `persistent buffer '${p.name}' changes type between input shapes`, {
          expected: `${have.type.dtype}${shapeText(have.type.shape)}`,
          received: `${p.type.dtype}${shapeText(p.type.shape)}`,
        });
      }
      return this.session.buffer(p.name);
    }
    const tensors = this.session.allocBuffer(p.name, p.type.dtype, p.type.shape);
    try {
      this.initialize(p, tensors);
    } catch (e) {
      this.session.freeBuffer(p.name);
      throw e;
    }
    this.specs.set(p.name, p);
    return tensors;
  }

  /**
   * A persistent buffer's first values: those of the GLOBAL tensor, whatever the mesh, so a sharded
   * program starts from the same weights as the unsharded one. A slice of a random tensor is drawn
   * whole on rank 0's device (same seed and per-name stream) and cut on the host.
   */
  private initialize(p: PersistentBuffer, tensors: DeviceTensor[]): void {
    const init = p.init;
    if (!init) return;
    const layout = p.layout;
    const upload = (global: HostArray) =>
      tensors.forEach((t, r) => t.upload(layout ? sliceForDevice(global, layout.shape, layout.dims, this.session.shape, this.session.localCoordinates(r)) : global));
    if (init.dist === 'data') return upload(init.values);
    // Integer state (labels kept on the device) has no random init: a constant is filled on the host.
    if (init.dist === 'constant' && (p.type.dtype === 'i32' || p.type.dtype === 'u8')) {
      for (const t of tensors) t.upload(allocHostArray(p.type.dtype, t.size).fill(init.value));
      return;
    }
    const stream = { seed: this.seed, offset: nameOffset(p.name) };
    if (!layout || init.dist === 'constant') {
      tensors.forEach((t, r) => randomInit(this.session.devices[r]!, t, init, stream));
      return;
    }
    const device = this.session.device;
    const whole = device.alloc(p.type.dtype, layout.shape);
    try {
      randomInit(device, whole, init, stream);
      upload(whole.download());
    } finally {
      whole.dispose();
    }
  }
}

/**
 * The host's view of a mesh run's outputs, per passes/partition.ts's OutputAssembly: a replicated
 * value is rank 0's; a batch-split one the data ranks' pieces in order; per-shard counts summed,
 * per-shard means averaged.
 */
function assembleOutputs(v: CompiledVariant, raw: ArrayBuffer[][], mesh: MeshShape): ArrayBuffer[] {
  const kinds = v.partition?.outputs;
  const dataRanks = Array.from({ length: mesh.data }, (_u, d) => d * mesh.model);
  return v.lowered.outputs.map(({ name, value }, i) => {
    const kind = kinds?.get(name) ?? 'replicated';
    const pieces = dataRanks.map((r) => raw[r]![i]!);
    if (kind === 'replicated' || pieces.length === 1) return raw[0]![i]!;
    if (kind === 'batch') {
      const out = new Uint8Array(pieces.reduce((s, b) => s + b.byteLength, 0));
      let at = 0;
      for (const b of pieces) {
        out.set(new Uint8Array(b), at);
        at += b.byteLength;
      }
      return out.buffer;
    }
    const n = numel(value.shape);
    if (kind === 'sum' && value.dtype === 'i32') {
      const out = new Int32Array(n);
      for (const b of pieces) new Int32Array(b).forEach((x, j) => (out[j]! += x));
      return out.buffer;
    }
    if (value.dtype !== 'f32') return raw[0]![i]!;
    const out = new Float32Array(n);
    const arrays = pieces.map((b) => new Float32Array(b));
    for (let j = 0; j < n; ++j) {
      const xs = arrays.map((a) => a[j]!);
      // attention_stats: [the largest logit, the mean entropy] of every shard.
      out[j] = kind === 'attention-stats' && j === 0 ? Math.max(...xs) : xs.reduce((s, x) => s + x, 0) / xs.length;
    }
    return out.buffer;
  });
}

export function shapeKey(shapes: Record<string, Shape>): string {
  return Object.keys(shapes)
    .sort()
    .map((k) => `${k}:${shapes[k]!.join('x')}`)
    .join(';');
}

function inputFlat(x: ProgramInput): HostArray {
  return ArrayBuffer.isView(x) ? x : x.data;
}

/** The bytes of one input in its storage type, checked against the compiled type. */
function hostPayload(name: string, data: HostArray, dtype: string, count: number): ArrayBufferView {
  const want = { f32: 'Float32Array', bf16: 'Uint16Array', i32: 'Int32Array', u8: 'Uint8Array' }[dtype]!;
  const payload = dtype === 'bf16' && data instanceof Float32Array ? toBf16(data) : data;
  if (!ArrayBuffer.isView(payload) || payload[Symbol.toStringTag] !== want) {
    throw new Vit22bError('ERR_DTYPE_MISMATCH', `input '${name}' is ${dtype}: give a ${want}`, {
      expected: want,
      received: (data as { [Symbol.toStringTag]?: string })?.[Symbol.toStringTag] ?? typeof data,
    });
  }
  if (payload.length !== count) {
    throw new Vit22bError('ERR_SHAPE_MISMATCH', `input '${name}' has the wrong number of elements`, { expected: `${count} elements`, received: `${payload.length} elements` });
  }
  return payload;
}
