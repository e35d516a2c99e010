/**
 * Memory per device from a compiled plan: the persistent slots by kind (parameters, gradients,
 * optimizer state, constants) and the activation arena, split at its peak into what is live then:
 * activations, weights gathered over `data` (ZeRO-3: a layer's weights in flight) and other
 * communication buffers (the inputs and outputs of collectives). The arena's size can exceed the
 * live bytes at the peak by the packing's fragmentation; that rest is reported as such.
 *
 * Fits when persistent + arena + reserve <= the card's memory, the reserve being what the process
 * needs besides our buffers: 5% of the card for the allocator's and driver's slack plus 1.5 GiB for
 * the CUDA context, cuBLAS workspaces and NCCL's channel buffers (chosen: those are the usual
 * orders of magnitude on H100 systems; a TPU's runtime reserves less, but the same rule is kept).
 */
import type { MemoryPlan } from '../graph/passes/memory-plan';
import { numel } from '../graph/types';
import { DTYPE_BYTES } from '../runtime/dtype';
import { COLLECTIVE_OPS } from '../graph/ops/collective-attrs';

export interface MemoryBreakdown {
  parameters: number;
  gradients: number;
  optimizerState: number;
  constants: number;
  /** The activation arena (slot 0), as planned. */
  arena: number;
  /** Live at the arena's peak: */
  activations: number;
  gatheredWeights: number;
  communicationBuffers: number;
  /** arena - live bytes at its peak (packing waste). */
  fragmentation: number;
  total: number;
}

export function memoryBreakdown(memory: MemoryPlan): MemoryBreakdown {
  const byKind: Record<string, number> = {};
  for (const p of memory.persistent) byKind[p.kind] = (byKind[p.kind] ?? 0) + numel(p.type.shape) * DTYPE_BYTES[p.type.dtype];
  // What kind of buffer each arena group is, from the values placed in it.
  const kind = new Array<'act' | 'gather' | 'comm'>(memory.groups.length).fill('act');
  for (const [v, loc] of memory.location) {
    if (loc.kind !== 'arena') continue;
    const op = v.node.op;
    if (op === 'all_gather' && v.node.attrs.axis === 'data') kind[loc.group] = 'gather';
    else if (COLLECTIVE_OPS.has(op) && kind[loc.group] === 'act') kind[loc.group] = 'comm';
  }
  // Live bytes over time (node positions) and the position of the peak.
  let last = 0;
  for (const g of memory.groups) last = Math.max(last, g.end);
  const delta = new Float64Array(last + 2);
  for (const g of memory.groups) {
    delta[g.start] = delta[g.start]! + g.bytes;
    delta[g.end + 1] = delta[g.end + 1]! - g.bytes;
  }
  let live = 0;
  let peak = 0;
  let at = 0;
  for (let i = 0; i <= last; i++) {
    live += delta[i]!;
    if (live > peak) {
      peak = live;
      at = i;
    }
  }
  const split = { act: 0, gather: 0, comm: 0 };
  memory.groups.forEach((g, i) => {
    if (g.start <= at && at <= g.end) split[kind[i]!] += g.bytes;
  });
  const persistent = memory.persistentBytes;
  return {
    parameters: byKind.param ?? 0,
    gradients: byKind.grad ?? 0,
    optimizerState: byKind.state ?? 0,
    constants: byKind.const ?? 0,
    arena: memory.arenaBytes,
    activations: split.act,
    gatheredWeights: split.gather,
    communicationBuffers: split.comm,
    fragmentation: Math.max(0, memory.arenaBytes - peak),
    total: persistent + memory.arenaBytes,
  };
}

export const RESERVE_FRACTION = 0.05;
export const RESERVE_BYTES = 1.5 * 2 ** 30;

export interface FitVerdict {
  fits: boolean;
  capacity: number;
  /** What the process needs besides the plan's buffers (see the file comment). */
  reserve: number;
  /** capacity - reserve - total (negative: short by that much). */
  headroom: number;
}

export function fitVerdict(total: number, capacity: number): FitVerdict {
  const reserve = capacity * RESERVE_FRACTION + RESERVE_BYTES;
  const headroom = capacity - reserve - total;
  return { fits: headroom >= 0, capacity, reserve, headroom };
}

export interface FitContext {
  zero: 0 | 3;
  remat: string;
  mesh: { data: number; model: number };
  precision: string;
  heads: number;
}

/** What to change when a plan does not fit, the largest part first. */
export function fitAdvice(m: MemoryBreakdown, v: FitVerdict, c: FitContext): string[] {
  if (v.fits) return [];
  const out: string[] = [];
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
  const stateful = m.parameters + m.gradients + m.optimizerState;
  const short = -v.headroom;
  if (c.zero === 0 && c.mesh.data > 1 && stateful > short / 2) {
    out.push(`--zero 3: parameters, gradients and optimizer state (${gib(stateful)}) would be split ${c.mesh.data} ways over data`);
  }
  if (c.remat !== 'block' && m.activations > short / 2) {
    out.push(`--remat ${c.remat === 'none' ? 'selective or block' : 'block'}: the activations live at the peak are ${gib(m.activations)}; recomputing them in the backward keeps fewer`);
  }
  const larger = [2, 4, 8, 16].map((f) => c.mesh.model * f).find((k) => c.heads % k === 0);
  if (larger) out.push(`a larger model axis (model=${larger}): every weight and activation of a block split ${larger} ways instead of ${c.mesh.model}`);
  if (m.activations > 0) out.push(`fewer images per device: a larger data axis, or gradient accumulation over micro-batches (the arena scales with the per-device batch)`);
  if (c.precision !== 'bf16-mixed') out.push('--precision bf16-mixed: activations and gathered weights in bf16');
  out.push(`short by ${gib(short)} on a ${gib(v.capacity)} card (reserve ${gib(v.reserve)} kept free)`);
  return out;
}
