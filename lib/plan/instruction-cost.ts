/**
 * The modelled duration of every instruction of a plan:
 *   gemm                 gemm-model.ts (efficiency by shape, or the CPU calibration's measured rate)
 *   attention_fwd / _bwd its products (QK^T and PV; the backward's five) as GEMMs of [tq, tk, headDim]
 *                        shape, or its bytes at sustained bandwidth, whichever is longer
 *   collectives          collective-cost.ts on the link the axis maps to (topology.ts)
 *   everything else      memory-bound: the bytes of every view it touches at sustained bandwidth
 * plus the device's fixed launch cost for each one. Bytes are the views' extents (a strided window
 * counts its whole extent: an upper bound for what the kernel reads).
 */
import type { NativePlan, PlanInstruction } from '../runtime/plan-format';
import { collectiveSeconds, bytesSent, type CollectiveKind } from './collective-cost';
import type { DeviceSpec } from './devices';
import { gemmFlops, gemmSeconds, type GemmRate } from './gemm-model';
import type { Topology } from './topology';

export type InstructionClass = 'gemm' | 'attention' | 'collective' | 'memory';

export interface InstructionCost {
  stream: number;
  index: number;
  kernel: string;
  cls: InstructionClass;
  seconds: number;
  /** Hardware FLOPs (GEMMs and attention). */
  flops: number;
  /** Bytes of the views it touches (memory traffic). */
  bytes: number;
  /** Collectives: axis and the bytes this device sends. */
  axis?: 'data' | 'model';
  sentBytes?: number;
  note?: string;
}

/** Per-kernel measured rates for memory-bound kernels (the CPU calibration): bytes per second. */
export interface KernelRates {
  /** Bytes per second of `kernel` moving `bytes` (a CPU's rate depends on whether they stay in cache). */
  bytesPerSecond(kernel: string, bytes: number): number | undefined;
}

export interface CostContext {
  device: DeviceSpec;
  topology: Topology;
  gemmRate?: GemmRate;
  kernelRates?: KernelRates;
}

function isView(v: unknown): v is { slot: number; offset: number; bytes: number } {
  return typeof v === 'object' && v !== null && typeof (v as { slot?: unknown }).slot === 'number' && typeof (v as { bytes?: unknown }).bytes === 'number';
}

/** Sum of the bytes of every view in a spec (nested: attention operands, multi-tensor lists). */
export function viewBytes(spec: unknown): number {
  if (isView(spec)) return spec.bytes;
  if (Array.isArray(spec)) return spec.reduce((s: number, x) => s + viewBytes(x), 0);
  if (typeof spec === 'object' && spec !== null) {
    let s = 0;
    for (const [k, v] of Object.entries(spec)) if (k !== 'read') s += viewBytes(v);
    return s;
  }
  return 0;
}

export function attentionFlops(spec: Record<string, unknown>, backward: boolean): number {
  const { batch, heads, tq, tk, headDim } = spec as Record<string, number>;
  return 2 * batch! * heads! * tq! * tk! * headDim! * (backward ? 5 : 2);
}

const ELEMENT_BYTES: Record<string, number> = { f32: 4, bf16: 2, i32: 4 };

/**
 * Bytes a memory-bound kernel moves. A view's `bytes` is its extent, which for a strided window (a
 * column block of a wider matrix) counts the columns it skips too; the kernels that take row strides
 * move rows x cols elements per operand instead.
 */
export function memoryBytes(kernel: string, s: Record<string, unknown>): number {
  const el = ELEMENT_BYTES[s.dtype as string];
  if (el !== undefined && kernel === 'strided_copy') return 2 * (s.batch as number) * (s.cols as number) * el;
  if (el !== undefined && (kernel === 'gelu_fwd' || kernel === 'gelu_bwd')) {
    const operands = kernel === 'gelu_fwd' ? 2 : 3;
    return operands * (s.rows as number) * (s.cols as number) * el + (s.bias ? (s.bias as { bytes: number }).bytes : 0);
  }
  return viewBytes(s);
}

const COLLECTIVES = new Set(['all_gather', 'reduce_scatter', 'all_reduce', 'collective_permute']);

export function costInstruction(ins: PlanInstruction, stream: number, index: number, c: CostContext): InstructionCost {
  const d = c.device;
  const s = ins.spec as Record<string, unknown>;
  const launch = d.launchUs * 1e-6;
  const bw = d.hbmGBps * 1e9 * d.hbmEfficiency;
  const base = { stream, index, kernel: ins.kernel, note: ins.note };
  if (ins.kernel === 'gemm') {
    const m = s.m as number, n = s.n as number, k = s.k as number, batch = (s.batch as number) ?? 1;
    const bytes = viewBytes({ a: s.a, b: s.b, c: s.c, bias: s.bias }) + ((s.beta as number) ? (s.c as { bytes: number }).bytes : 0);
    const seconds = gemmSeconds(d, { m, n, k, batch, bytes }, c.gemmRate) + launch;
    return { ...base, cls: 'gemm', seconds, flops: gemmFlops({ m, n, k, batch }), bytes };
  }
  if (ins.kernel === 'attention_fwd' || ins.kernel === 'attention_bwd') {
    const backward = ins.kernel === 'attention_bwd';
    const flops = attentionFlops(s, backward);
    const { batch, heads, tq, tk, headDim } = s as Record<string, number>;
    const products = backward ? 5 : 2;
    const bytes = viewBytes(s);
    // One product's shape ([tq, headDim] x [headDim, tk]) sets the efficiency of all of them.
    const one = gemmSeconds(d, { m: tq!, n: tk!, k: headDim!, batch: batch! * heads!, bytes: 0 }, c.gemmRate);
    const seconds = Math.max(one * products, bytes / bw) + launch;
    return { ...base, cls: 'attention', seconds, flops, bytes };
  }
  if (COLLECTIVES.has(ins.kernel)) {
    const axis = s.axis as 'data' | 'model';
    const ranks = s.ranks as number;
    const input = (s.x as { bytes: number }).bytes;
    const link = c.topology.axes[axis].link;
    const kind = ins.kernel as CollectiveKind;
    const seconds = collectiveSeconds(kind, input, ranks, link) + launch;
    return { ...base, cls: 'collective', seconds, flops: 0, bytes: viewBytes(s), axis, sentBytes: bytesSent(kind, input, ranks) };
  }
  const bytes = memoryBytes(ins.kernel, s);
  const rate = c.kernelRates?.bytesPerSecond(ins.kernel, bytes) ?? bw;
  return { ...base, cls: 'memory', seconds: bytes / rate + launch, flops: 0, bytes };
}

export function costPlan(plan: NativePlan, c: CostContext): InstructionCost[][] {
  return plan.streams.map((stream, si) => stream.map((ins, i) => costInstruction(ins, si, i, c)));
}
