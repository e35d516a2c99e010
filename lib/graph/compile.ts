/**
 * compile(model, options) -> Program: the whole pipeline of the graph compiler.
 *   build (a Graph, or a function that builds one per set of input shapes)
 *   -> training step (gradients + optimizer update, when `train` is given)
 *   -> dead-code elimination -> fusion -> rematerialization -> DCE again -> windows (slices and
 *      concatenations without copies)
 *   -> memory plan (arena offsets from liveness; the peak is known here) -> lowering to a NativePlan
 *   -> loaded once on the device; each run is one native call.
 */
import type { Device } from '../runtime/device';
import { Vit22bError } from '../runtime/errors';
import { checkMeshShape, createMesh, MAX_PLANNED_MESH_DEVICES, type Mesh, type MeshComm } from '../runtime/mesh';
import { Session } from '../runtime/session';
import { GraphBuilder, type Precision } from './builder';
import type { Graph, Node } from './ir';
import { eliminateDeadCode } from './passes/dce';
import { fuse } from './passes/fusion';
import { lower } from './passes/lower';
import { partition } from './passes/partition';
import { OVERLAP_MODES, streamAssignment, type OverlapMode } from './passes/streams';
import { ringMatmuls, type RingReport } from './passes/ring';
import { prefetchWeightGathers } from './passes/prefetch';
import { planMemory, type MemoryPlan } from './passes/memory-plan';
import { planWindows } from './passes/windows';
import { rematerialize, type RematPolicy } from './passes/remat';
import { Program, shapeKey, type ProgramMode } from './program';
import { appendTrainingStep, type TrainingStepOptions } from './training-step';
import type { Shape } from './types';
import { checkMesh, meshSize, type MeshShape } from './sharding';

/** Builds the forward graph for the given input shapes. */
export type ModelFn = (b: GraphBuilder, shapes: Record<string, Shape>) => void;

export interface CompileOptions {
  /** The device to run on; with `mesh`, the mesh's devices are used instead (CPU), or, with comm 'nccl', this GPU. */
  device?: Device;
  /**
   * Run on a data x model mesh of virtual devices in this process (passes/partition.ts): a shape
   * such as { data: 2, model: 2 } (the program creates and owns a CPU mesh) or a Mesh of your own.
   */
  mesh?: MeshShape | Mesh;
  /**
   * How a mesh given as a shape talks: 'local' (default: virtual devices of this process), 'mpi'
   * (this process is one CPU device of an MPI job of data x model processes: mpirun / srun) or
   * 'nccl' (this process is one GPU, `device` or LOCAL_RANK's, of a job of data x model processes;
   * see Mesh).
   */
  comm?: MeshComm;
  /** A mesh collective's deadline in ms (ERR_COLLECTIVE_TIMEOUT / ERR_COMM_TIMEOUT); default Mesh's. */
  commTimeoutMs?: number;
  /**
   * 3: ZeRO-3 over the mesh's data axis (passes/partition.ts): large parameters, their gradients
   * and optimizer state split over data, gathered where used. 0 (default): replicated over data.
   */
  zero?: 0 | 3;
  /**
   * 'streams': collectives run on a communication stream of their own, overlapping the compute that
   * does not depend on them (passes/streams.ts); 'none' (default): one stream. Same results.
   * 'ring' | 'bidirectional': 'streams' plus the asynchronous collective matmul (passes/ring.ts,
   * ops/ring-matmul.ts): all_gather -> matmul and matmul -> reduce_scatter pairs run as ring steps,
   * each chunk's transfer overlapping the previous chunk's GEMM (bidirectional: half of every chunk
   * each way). Same results up to the order of floating-point sums.
   */
  overlap?: OverlapMode;
  /** 'fp32' (default) or 'bf16-mixed' (see GraphBuilder). */
  precision?: Precision;
  /** Append gradients and this optimizer update: the program is a whole training step. */
  train?: TrainingStepOptions;
  remat?: RematPolicy;
  /** Fusion pass on (default) or off (tests compare both). */
  fusion?: boolean;
  /**
   * Slices and concatenations without copies (passes/windows.ts): on by default, off with
   * fusion off (tests compare both).
   */
  windows?: boolean;
  /** Seed of the parameter initialization. */
  seed?: number;
  /** Input shapes of the first variant (required with a ModelFn). */
  inputShapes?: Record<string, Shape>;
}

/** The passes from a built graph to a lowered plan, shared by every shape variant. */
export function compileGraph(global: Graph, options: Omit<CompileOptions, 'device' | 'inputShapes' | 'seed' | 'mesh'> & { mesh?: MeshShape }, mode: ProgramMode = options.train ? 'train' : 'forward') {
  // Partition the forward graph, then differentiate the per-device graph (SHARDING.md decision 1).
  // Compiling one device's plan creates no devices: a paper-scale mesh may be planned (placementOf
  // holds a mesh that runs to MAX_MESH_DEVICES).
  const mesh = options.mesh ? checkMeshShape(options.mesh, MAX_PLANNED_MESH_DEVICES) : undefined;
  if (options.zero !== undefined && options.zero !== 0 && options.zero !== 3) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', 'zero must be 0 or 3', { expected: '0 | 3', received: String(options.zero) });
  }
  const sharded = mesh && meshSize(mesh) > 1 ? partition(global, mesh, { zero: options.zero }) : undefined;
  const g = sharded?.graph ?? global;
  if (options.train && mode !== 'forward') appendTrainingStep(g, options.train, mode);
  eliminateDeadCode(g);
  const fusion = options.fusion === false ? undefined : fuse(g);
  const recomputed = rematerialize(g, options.remat ?? 'none');
  eliminateDeadCode(g);
  const overlap = options.overlap ?? 'none';
  if (!OVERLAP_MODES.includes(overlap)) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `overlap must be one of ${OVERLAP_MODES.join(', ')}`, { expected: OVERLAP_MODES.join(' | '), received: String(overlap) });
  }
  // ZeRO-3 weights gathered one layer ahead on the communication stream (passes/prefetch.ts); first,
  // so that a weight re-gathered for the backward (remat) exists where the ring below needs it.
  const prefetch = options.zero === 3 && overlap !== 'none' && sharded ? prefetchWeightGathers(g) : undefined;
  // The collective matmul rewrites the whole differentiated graph (both directions) once every
  // other pass that moves matmuls (fusion, remat) is done.
  let ring: RingReport | undefined;
  if ((overlap === 'ring' || overlap === 'bidirectional') && sharded) {
    ring = ringMatmuls(g, overlap);
    eliminateDeadCode(g);
  }
  const streamOf = streamAssignment(overlap);
  const { windows, memory } = planWithWindows(g, options.fusion !== false && options.windows !== false, streamOf);
  const lowered = lower(g, memory, windows?.plan, streamOf);
  return { graph: g, memory, lowered, fusion, recomputed, windows, ...(sharded ? { partition: sharded } : {}), ...(ring ? { ring } : {}), ...(prefetch ? { prefetch } : {}) };
}

/**
 * The memory plan with as many windows as cost no memory: slices and pieces, else slices only,
 * else none (a concatenation allocated at its first piece, or a base kept alive for its windows,
 * can raise the peak; copies never do more than the plan without windows).
 */
function planWithWindows(g: Graph, on: boolean, streamOf: (n: Node) => number): { windows?: ReturnType<typeof planWindows>; memory: MemoryPlan } {
  const plain = planMemory(g, undefined, undefined, streamOf);
  if (!on) return { memory: plain };
  for (const pieces of [true, false]) {
    const windows = planWindows(g, { pieces });
    const memory = planMemory(g, windows.plan, undefined, streamOf);
    if (memory.arenaBytes <= plain.arenaBytes) return { windows, memory };
  }
  return { memory: plain };
}

export function compile(model: Graph | ModelFn, options: CompileOptions): Program {
  if (!options || typeof options !== 'object' || (!options.device && !options.mesh)) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', 'compile needs options with a device (or a mesh)', { expected: '{ device, ... } or { mesh, ... }', received: String(options) });
  }
  if (typeof model !== 'function' && (typeof model !== 'object' || model === null || typeof (model as Graph).leaves !== 'function')) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', 'compile takes a model function or a Graph', { field: 'model', expected: '(b, shapes) => void, or a Graph', received: model === null ? 'null' : typeof model });
  }
  const { session, shape } = placementOf(options);
  try {
    return compileOn(model, { ...options, mesh: shape }, session);
  } catch (e) {
    session.dispose();
    throw e;
  }
}

/** Where a program runs: one device, a mesh given, or a CPU mesh created for (and owned by) it. */
function placementOf(options: CompileOptions): { session: Session; shape?: MeshShape } {
  const m = options.mesh;
  if (m === undefined) return { session: new Session(options.device!) };
  if (Array.isArray((m as Mesh).devices)) {
    const mesh = m as Mesh;
    return { session: new Session(mesh), shape: { ...mesh.shape } };
  }
  const shape = checkMesh(m);
  const nccl = options.comm === 'nccl';
  if (options.device && options.device.kind !== 'cpu' && !nccl) {
    throw new Vit22bError('ERR_NOT_IMPLEMENTED', `a mesh over '${options.comm ?? 'local'}' runs on CPU devices; GPUs take part one per process over NCCL (comm 'nccl')`, {
      expected: "device 'cpu' (or none), or comm 'nccl' with a cuda device",
      received: options.device.kind,
    });
  }
  // Over NCCL the mesh holds the given GPU (this process's; the caller keeps it); without one it
  // opens LOCAL_RANK's.
  const mesh = createMesh(shape, {
    ...(options.comm !== undefined ? { comm: options.comm } : {}),
    ...(options.commTimeoutMs !== undefined ? { timeoutMs: options.commTimeoutMs } : {}),
    ...(nccl && options.device ? { device: options.device } : {}),
  });
  return { session: new Session(mesh, mesh), shape };
}

function compileOn(model: Graph | ModelFn, options: CompileOptions & { mesh?: MeshShape }, session: Session): Program {
  const seed = options.seed ?? 0;
  if (typeof model === 'function') {
    const first = options.inputShapes;
    if (!first) {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', 'compile(fn) needs inputShapes for its first variant', {
        expected: 'inputShapes: { name: shape }',
        received: 'undefined',
      });
    }
    checkInputShapes(first);
    const build = (shapes: Record<string, Shape>, mode: ProgramMode) => {
      checkInputShapes(shapes);
      const b = new GraphBuilder({ precision: options.precision });
      model(b, shapes);
      if (mode !== 'forward' && !options.train) throw untrainable(mode);
      return { key: shapeKey(shapes), mode, ...compileGraph(b.graph, options, mode) };
    };
    const program = new Program(session, build, seed, shapeKey(first), options.train ? 'train' : 'forward', !!options.train?.accumulate);
    program.variant(first);
    return program;
  }
  if (options.precision !== undefined && options.precision !== model.precision) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', 'the graph was built under another precision', {
      expected: `${model.precision} (or build with new GraphBuilder({ precision }), or pass a model function)`,
      received: options.precision,
    });
  }
  const shapes: Record<string, Shape> = {};
  for (const n of model.leaves('input')) shapes[n.attrs.name as string] = n.outputs[0]!.shape;
  let used = false;
  const defaultMode: ProgramMode = options.train ? 'train' : 'forward';
  const build = (s: Record<string, Shape>, mode: ProgramMode) => {
    // A Graph has one set of shapes and one mode (compiling consumes it); a model function can be
    // compiled for others.
    if (used || shapeKey(s) !== shapeKey(shapes) || mode !== defaultMode) {
      throw new Vit22bError('ERR_SHAPE_MISMATCH', 'this program was compiled from a fixed graph; its input shapes and mode cannot change (compile a model function instead)', {
        expected: `${defaultMode} ${shapeKey(shapes)}`,
        received: `${mode} ${shapeKey(s)}`,
      });
    }
    used = true;
    return { key: shapeKey(s), mode, ...compileGraph(model, options, mode) };
  };
  const program = new Program(session, build, seed, shapeKey(shapes), defaultMode, !!options.train?.accumulate);
  program.variant(shapes);
  return program;
}

/**
 * Input shapes of a model function: an object of arrays of integers >= 1. A batch of 0 would plan an
 * empty step that no kernel can run, and a non-array would fail as a TypeError deep in the builder.
 */
function checkInputShapes(shapes: unknown): void {
  if (typeof shapes !== 'object' || shapes === null || Array.isArray(shapes)) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', 'inputShapes must be an object of shapes', { field: 'inputShapes', expected: '{ name: number[] }', received: Array.isArray(shapes) ? 'an array' : String(shapes) });
  }
  for (const [name, shape] of Object.entries(shapes)) {
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 1 && d <= 2 ** 31 - 1)) {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', `input '${name}' has an invalid shape: every dimension must be an integer >= 1 (a batch of 0 has nothing to run)`, {
        field: `inputShapes.${name}`,
        expected: 'integers in [1, 2^31 - 1]',
        received: Array.isArray(shape) ? `[${shape.map(String).join(', ')}]` : String(shape),
      });
    }
  }
}

function untrainable(mode: ProgramMode): Vit22bError {
  return new Vit22bError('ERR_INVALID_ARGUMENT', `run mode '${mode}' needs a program compiled with train options`, {
    expected: "mode 'forward' (or compile with { train })",
    received: mode,
  });
}
