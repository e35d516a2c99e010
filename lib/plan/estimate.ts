/**
 * The planner: compile one device's plan of a training step, cost every instruction, schedule it
 * on the plan's streams and events, and account memory, FLOPs and traffic. Nothing runs.
 *
 * Depth: a ViT's blocks are identical, so every figure of a plan (time, FLOPs, bytes, memory) is an
 * affine function of the depth, a + b·L, to within the edges of the schedule. A deep model (more
 * than `fullDepthMax` blocks) is compiled at two small depths and every figure extrapolated to the
 * real one (`compiled.extrapolated` says so, with the depths): compiling a 48-block ViT-22B plan
 * on a 1,024-device mesh takes minutes, a 2-block one half a second.
 */
import { compileGraph } from '../graph/compile';
import { GraphBuilder, type Precision } from '../graph/builder';
import type { RematPolicy } from '../graph/passes/remat';
import type { OverlapMode } from '../graph/passes/streams';
import type { MemoryPlan } from '../graph/passes/memory-plan';
import { trainingFlopsPerImage } from '../bench/mfu';
import { countParams } from '../model/params';
import { buildVit } from '../model/vit';
import type { ModelConfig } from '../model/config';
import { checkMeshFits } from '../model/mesh-fit';
import { MAX_PLANNED_MESH_DEVICES, type MeshShape } from '../runtime/mesh';
import type { NativePlan } from '../runtime/plan-format';
import type { DeviceSpec } from './devices';
import type { GemmRate } from './gemm-model';
import { costPlan, type InstructionClass, type KernelRates } from './instruction-cost';
import { fitAdvice, fitVerdict, memoryBreakdown, type MemoryBreakdown } from './memory';
import { schedule } from './schedule';
import { topologyOf } from './topology';

export type PlannerOverlap = OverlapMode;

export interface EstimateOptions {
  config: ModelConfig;
  model?: string;
  batch: number;
  mesh: MeshShape;
  zero?: 0 | 3;
  overlap?: PlannerOverlap;
  remat?: RematPolicy;
  precision?: Precision;
  device: DeviceSpec;
  devicesPerNode?: number;
  gemmRate?: GemmRate;
  kernelRates?: KernelRates;
  /** Compile the whole depth when it is at most this (default 8); else extrapolate from `depths`. */
  fullDepthMax?: number;
  /** The two depths extrapolated from (default [2, 3]). */
  depths?: [number, number];
}

export interface CollectiveTraffic {
  collective: string;
  axis: 'data' | 'model';
  carrier: 'link' | 'network';
  calls: number;
  /** Bytes of the inputs this device gives the collective, summed over calls. */
  inputBytes: number;
  /** Bytes this device sends on the link, by the ring formulas. */
  sentBytes: number;
  /** Modelled seconds, summed over calls (before overlap). */
  seconds: number;
}

/** The numbers of one compiled depth (all additive in depth). */
export interface Figures {
  instructions: number;
  kernels: Record<string, number>;
  hardwareFlops: number;
  memory: MemoryBreakdown;
  traffic: Record<string, CollectiveTraffic>;
  stepSeconds: number;
  serialSeconds: number;
  unoverlappedSeconds: number;
  computeSeconds: number;
  communicationSeconds: number;
  byClass: Record<InstructionClass, number>;
  criticalByClass: Record<InstructionClass, number>;
  criticalInstructions: number;
}

export interface PlanEstimate {
  model: string;
  parameters: number;
  batch: number;
  perDeviceBatch: number;
  precision: Precision;
  remat: RematPolicy;
  zero: 0 | 3;
  overlap: PlannerOverlap;
  /** How overlap was modelled: 'plan' (as compiled) or '<mode> plan in sequence' ('none' from the streams plan). */
  overlapModel: string;
  mesh: MeshShape;
  devices: number;
  device: { id: string; name: string; peakTflops: number; hbmBytes: number; hbmGBps: number; linkGBps: number; netGBps: number };
  topology: { devicesPerNode: number; nodes: number; model: 'link' | 'network'; data: 'link' | 'network' };
  compiled: { depth: number; extrapolated: boolean; depths: number[]; seconds: number };
  memory: MemoryBreakdown & { fits: boolean; capacity: number; reserve: number; headroom: number; advice: string[] };
  flops: { modelPerImage: number; modelPerDevice: number; hardwarePerDevice: number };
  communication: CollectiveTraffic[];
  time: { stepSeconds: number; serialSeconds: number; unoverlappedSeconds: number; computeSeconds: number; communicationSeconds: number; exposedCommunicationSeconds: number; imagesPerSecond: number };
  mfu: { withOverlap: number; withoutOverlap: number; hfu: number };
  criticalPath: { instructions: number; secondsByClass: Record<InstructionClass, number>; top: { kernel: string; note: string; seconds: number }[] };
  kernels: { launches: number; byKernel: Record<string, number> };
}

export interface Compiled {
  plan: NativePlan;
  memory: MemoryPlan;
}

/** The plan compiled for a mode: each as such, but 'none' from the 'streams' plan when deriveNone (run in sequence). */
function compileKey(mode: PlannerOverlap, deriveNone: boolean): OverlapMode {
  return mode === 'none' && deriveNone ? 'streams' : mode;
}

function compileAt(o: EstimateOptions, depth: number, key: string): Compiled {
  const b = new GraphBuilder({ precision: o.precision ?? 'bf16-mixed' });
  buildVit(b, { ...o.config, depth }, { batch: o.batch });
  const c = compileGraph(b.graph, { train: { loss: 'loss', optimizer: { kind: 'adamw' as const } }, remat: o.remat ?? 'none', mesh: o.mesh, zero: o.zero ?? 0, overlap: key as OverlapMode });
  return { plan: c.lowered.plan, memory: c.memory };
}

const zeroes = (): Record<InstructionClass, number> => ({ gemm: 0, attention: 0, memory: 0, collective: 0 });

export function figuresOf(o: Pick<EstimateOptions, 'mesh' | 'device' | 'devicesPerNode' | 'gemmRate' | 'kernelRates' | 'overlap'>, c: Compiled): Figures & { top: { kernel: string; note: string; seconds: number }[] } {
  const topology = topologyOf(o.mesh, o.device, o.devicesPerNode);
  const costs = costPlan(c.plan, { device: o.device, topology, gemmRate: o.gemmRate, kernelRates: o.kernelRates });
  // Without overlap: every instruction one after another, each collective at its own cost.
  const unoverlapped = costs.flat().reduce((t, x) => t + x.seconds, 0);
  // 'none' costed on a plan with more streams: one stream, every instruction in turn.
  const serial = o.overlap === 'none' && c.plan.streams.length > 1;
  const timed = serial ? { ...c.plan, streams: [c.plan.streams.flat().map((i) => ({ ...i, wait: undefined, record: undefined }))] } : c.plan;
  const s = schedule(
    timed,
    serial ? [costs.flat().map((x) => x.seconds)] : costs.map((l) => l.map((x) => x.seconds)),
  );
  const kernels: Record<string, number> = {};
  const traffic: Record<string, CollectiveTraffic> = {};
  const byClass = zeroes();
  let flops = 0;
  let instructions = 0;
  let comm = 0;
  for (const list of costs) {
    for (const x of list) {
      instructions++;
      kernels[x.kernel] = (kernels[x.kernel] ?? 0) + 1;
      flops += x.flops;
      byClass[x.cls] += x.seconds;
      if (x.cls === 'collective') {
        comm += x.seconds;
        const key = `${x.kernel} over ${x.axis}`;
        const t = (traffic[key] ??= { collective: x.kernel, axis: x.axis!, carrier: topology.axes[x.axis!].carrier, calls: 0, inputBytes: 0, sentBytes: 0, seconds: 0 });
        const spec = c.plan.streams[x.stream]![x.index]!.spec as { x: { bytes: number } };
        t.calls++;
        t.inputBytes += spec.x.bytes;
        t.sentBytes += x.sentBytes ?? 0;
        t.seconds += x.seconds;
      }
    }
  }
  const criticalByClass = zeroes();
  const flat = costs.flat();
  const onPath = s.criticalPath.map(([si, i]) => (serial ? flat[i]! : costs[si]![i]!));
  for (const x of onPath) criticalByClass[x.cls] += x.seconds;
  const top = [...onPath]
    .sort((a, b) => b.seconds - a.seconds)
    .slice(0, 8)
    .map((x) => ({ kernel: x.kernel, note: x.note ?? '', seconds: x.seconds }));
  return {
    instructions,
    kernels,
    hardwareFlops: flops,
    memory: memoryBreakdown(c.memory),
    traffic,
    stepSeconds: s.makespan,
    serialSeconds: s.serial,
    unoverlappedSeconds: unoverlapped,
    computeSeconds: s.busy[0] ?? 0,
    communicationSeconds: comm,
    byClass,
    criticalByClass,
    criticalInstructions: s.criticalPath.length,
    top,
  };
}

/** a + (b - a)·t over every number of two objects of the same structure. */
function extrapolate<T>(a: T, b: T, t: number): T {
  if (typeof a === 'number' && typeof b === 'number') return Math.max(0, a + (b - a) * t) as T;
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && !Array.isArray(a)) {
    const out: Record<string, unknown> = {};
    const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)]);
    for (const k of keys) {
      const x = (a as Record<string, unknown>)[k];
      const y = (b as Record<string, unknown>)[k];
      if (x === undefined) out[k] = typeof y === 'object' ? extrapolate(zeroLike(y), y, t) : typeof y === 'number' ? extrapolate(0, y, t) : y;
      else if (y === undefined) out[k] = x;
      else out[k] = typeof x === 'string' ? y : extrapolate(x, y, t);
    }
    return out as T;
  }
  return b;
}

function zeroLike(v: unknown): unknown {
  if (typeof v === 'number') return 0;
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, zeroLike(x)]));
  return v;
}

export function estimate(o: EstimateOptions): PlanEstimate {
  return estimateModes(o, [o.overlap ?? 'none']).get(o.overlap ?? 'none')!;
}

/**
 * The estimate under several overlap modes, compiling each distinct plan once (the ring modes share
 * the 'streams' plan until the compiler emits them; with `deriveNone`, 'none' is that plan run in
 * sequence instead of a compile of its own).
 */
export function estimateModes(o: EstimateOptions & { deriveNone?: boolean }, modes: PlannerOverlap[]): Map<PlannerOverlap, PlanEstimate> {
  const mesh = checkMeshFits(o.config, o.mesh, o.batch, MAX_PLANNED_MESH_DEVICES);
  const t0 = performance.now();
  const depth = o.config.depth;
  const [d1, d2] = o.depths ?? [2, 3];
  const extrapolated = depth > (o.fullDepthMax ?? 8) && d2 < depth;
  const depths = extrapolated ? [d1, d2] : [depth];
  const compiled = new Map<string, Compiled[]>();
  for (const mode of modes) {
    const key = compileKey(mode, !!o.deriveNone);
    if (!compiled.has(key)) compiled.set(key, depths.map((d) => compileAt(o, d, key)));
  }
  const seconds = (performance.now() - t0) / 1e3;
  const out = new Map<PlannerOverlap, PlanEstimate>();
  for (const mode of modes) {
    const key = compileKey(mode, !!o.deriveNone);
    const cs = compiled.get(key)!;
    const mo = { ...o, overlap: mode };
    let f: Figures;
    let top: { kernel: string; note: string; seconds: number }[];
    if (extrapolated) {
      const { top: _a, ...fa } = figuresOf(mo, cs[0]!);
      const { top: tb, ...fb } = figuresOf(mo, cs[1]!);
      void _a;
      f = extrapolate(fa, fb, (depth - d1) / (d2 - d1));
      f.instructions = Math.round(f.instructions);
      for (const k of Object.keys(f.kernels)) f.kernels[k] = Math.round(f.kernels[k]!);
      for (const t of Object.values(f.traffic)) t.calls = Math.round(t.calls);
      top = tb;
    } else {
      const { top: tt, ...ff } = figuresOf(mo, cs[0]!);
      f = ff;
      top = tt;
    }
    out.set(mode, assemble({ ...o, overlap: mode }, mesh, f, top, { depth, extrapolated, depths, seconds }, key === mode ? 'plan' : `${key} plan in sequence`));
  }
  return out;
}

function assemble(o: EstimateOptions, mesh: MeshShape, f: Figures, top: { kernel: string; note: string; seconds: number }[], compiled: PlanEstimate['compiled'], overlapModel: string): PlanEstimate {
  const devices = mesh.data * mesh.model;
  const perImage = trainingFlopsPerImage(o.config).perImage;
  const modelPerDevice = (perImage * o.batch) / devices;
  const peak = o.device.peakTflops * 1e12;
  const verdict = fitVerdict(f.memory.total, o.device.hbmBytes);
  const topology = topologyOf(mesh, o.device, o.devicesPerNode);
  const zero = o.zero ?? 0;
  const remat = o.remat ?? 'none';
  const precision = o.precision ?? 'bf16-mixed';
  const overlap = o.overlap ?? 'none';
  return {
    model: o.model ?? 'custom',
    parameters: countParams(o.config).total,
    batch: o.batch,
    perDeviceBatch: o.batch / mesh.data,
    precision,
    remat,
    zero,
    overlap,
    overlapModel,
    mesh,
    devices,
    device: { id: o.device.id, name: o.device.name, peakTflops: o.device.peakTflops, hbmBytes: o.device.hbmBytes, hbmGBps: o.device.hbmGBps, linkGBps: o.device.linkGBps, netGBps: o.device.netGBps },
    topology: { devicesPerNode: topology.devicesPerNode, nodes: topology.nodes, model: topology.axes.model.carrier, data: topology.axes.data.carrier },
    compiled,
    memory: { ...f.memory, ...verdict, advice: fitAdvice(f.memory, verdict, { zero, remat, mesh, precision, heads: o.config.heads }) },
    flops: { modelPerImage: perImage, modelPerDevice, hardwarePerDevice: f.hardwareFlops },
    communication: Object.values(f.traffic).sort((a, b) => b.sentBytes - a.sentBytes),
    time: {
      stepSeconds: f.stepSeconds,
      serialSeconds: f.serialSeconds,
      unoverlappedSeconds: f.unoverlappedSeconds,
      computeSeconds: f.computeSeconds,
      communicationSeconds: f.communicationSeconds,
      exposedCommunicationSeconds: Math.max(0, f.stepSeconds - (f.serialSeconds - f.communicationSeconds)),
      imagesPerSecond: o.batch / f.stepSeconds,
    },
    mfu: { withOverlap: modelPerDevice / (peak * f.stepSeconds), withoutOverlap: modelPerDevice / (peak * f.unoverlappedSeconds), hfu: f.hardwareFlops / (peak * f.stepSeconds) },
    criticalPath: { instructions: Math.round(f.criticalInstructions), secondsByClass: f.criticalByClass, top },
    kernels: { launches: f.instructions, byKernel: f.kernels },
  };
}

