/**
 * What a compiled training step costs, before anything runs: memory (arena, and persistent state by
 * kind), kernel launches by kind, and the model FLOPs of its GEMMs and attention. `vit22b plan`
 * prints it; compiling needs no device, so the plan of a model far larger than this machine (ViT-22B)
 * can be inspected here.
 */
import { DTYPE_BYTES } from '../runtime/dtype';
import type { NativePlan } from '../runtime/plan-format';
import type { MemoryPlan } from './passes/memory-plan';
import { numel } from './types';
import { COLLECTIVE_OPS } from './ops/collective-attrs';

export interface PlanReport {
  instructions: number;
  kernels: Record<string, number>;
  memory: {
    arenaBytes: number;
    /** Without reuse between values: what the planner saved against. */
    unsharedBytes: number;
    persistentBytes: number;
    /** Persistent bytes by kind: param, grad, state (optimizer), const. */
    persistentByKind: Record<string, number>;
    /** arena + persistent: the device memory one step needs. */
    totalBytes: number;
  };
  /** Multiply-adds x 2 of every GEMM and attention launch of one step. */
  flops: number;
  /**
   * Under a mesh, per collective and axis ('all_gather over model', ...): launches per step and the
   * bytes this device sends into it (its input: the shard it contributes).
   */
  collectives: Record<string, { calls: number; bytes: number }>;
}

function attentionFlops(spec: Record<string, unknown>, backward: boolean): number {
  const { batch, heads, tq, tk, headDim } = spec as Record<string, number>;
  // Forward: QK^T and PV; backward recomputes QK^T and does four more products of that size.
  return 2 * batch! * heads! * tq! * tk! * headDim! * (backward ? 5 : 2);
}

export function planReport(plan: NativePlan, memory: MemoryPlan): PlanReport {
  const kernels: Record<string, number> = {};
  let flops = 0;
  let instructions = 0;
  const collectives: PlanReport['collectives'] = {};
  for (const stream of plan.streams) {
    for (const ins of stream) {
      instructions++;
      if (COLLECTIVE_OPS.has(ins.kernel)) {
        const key = `${ins.kernel} over ${ins.spec.axis as string}`;
        const c = (collectives[key] ??= { calls: 0, bytes: 0 });
        c.calls++;
        c.bytes += (ins.spec.x as { bytes: number }).bytes;
      }
      kernels[ins.kernel] = (kernels[ins.kernel] ?? 0) + 1;
      const s = ins.spec as Record<string, number>;
      if (ins.kernel === 'gemm') flops += 2 * s.m! * s.n! * s.k! * (s.batch ?? 1);
      if (ins.kernel === 'attention_fwd') flops += attentionFlops(ins.spec, false);
      if (ins.kernel === 'attention_bwd') flops += attentionFlops(ins.spec, true);
    }
  }
  const persistentByKind: Record<string, number> = {};
  for (const p of memory.persistent) {
    persistentByKind[p.kind] = (persistentByKind[p.kind] ?? 0) + numel(p.type.shape) * DTYPE_BYTES[p.type.dtype];
  }
  return {
    instructions,
    kernels,
    memory: {
      arenaBytes: memory.arenaBytes,
      unsharedBytes: memory.unsharedBytes,
      persistentBytes: memory.persistentBytes,
      persistentByKind,
      totalBytes: memory.arenaBytes + memory.persistentBytes,
    },
    flops,
    collectives,
  };
}
