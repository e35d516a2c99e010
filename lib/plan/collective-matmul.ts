/**
 * Overlap 'ring' and 'bidirectional' (the collective matmul, ../shared/design/SHARDING.md) modelled
 * on a plan compiled with overlap 'streams', for as long as the compiler cannot emit the looped
 * form itself: every all-gather over `model` that feeds a GEMM, and every reduce-scatter over
 * `model` fed by one, is fused with that GEMM as the loop would run it. With n ranks, the GEMM cut in
 * n chunks of time g_i (each costed by its own shape: k/n deep for the all-gather's chunks, m/n rows
 * for the reduce-scatter's) and one chunk's transfer c = a + chunk/B (chunk/2B both ways round the
 * ring for 'bidirectional', links being full duplex):
 *
 *   fused time = g_1 + (n - 1) · max(g_i, c)
 *
 * (the first chunk is local, then each step computes one chunk while the next travels). The fused
 * collective takes no time of its own on the communication stream, and the copies that reassemble
 * a gathered value before its GEMM (a concatenation of the pieces) are dropped: the loop multiplies
 * each chunk where it arrived. When the compiler emits the ring
 * itself (collective permutes on the communication stream), the plan is costed as it is instead.
 */
import type { NativePlan, PlanView } from '../runtime/plan-format';
import type { DeviceSpec } from './devices';
import { gemmSeconds, type GemmRate } from './gemm-model';
import type { InstructionCost } from './instruction-cost';
import type { Topology } from './topology';

export type RingMode = 'ring' | 'bidirectional';

function overlaps(a: PlanView, b: PlanView): boolean {
  return a.slot === b.slot && a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes;
}

export interface FusedPair {
  collective: [number, number];
  gemm: number;
  kind: 'all_gather' | 'reduce_scatter';
  gemmSeconds: number;
  collectiveSeconds: number;
  fusedSeconds: number;
}

/** Rewrites `costs` (in place) for the collective matmul; returns the pairs it fused. */
export function fuseCollectiveMatmuls(plan: NativePlan, costs: InstructionCost[][], mode: RingMode, d: DeviceSpec, topology: Topology, gemmRate?: GemmRate): FusedPair[] {
  const compute = plan.streams[0]!;
  const recorder = new Map<number, [number, number]>();
  const waiter = new Map<number, number>();
  plan.streams.forEach((s, si) =>
    s.forEach((ins, i) => {
      if (ins.record !== undefined) recorder.set(ins.record, [si, i]);
      if (si === 0) for (const e of ins.wait ?? []) if (!waiter.has(e)) waiter.set(e, i);
    }),
  );
  const link = topology.axes.model.link;
  const used = new Set<number>();
  const pairs: FusedPair[] = [];
  plan.streams.forEach((s, si) => {
    if (si === 0) return;
    s.forEach((ins, i) => {
      if (ins.spec.axis !== 'model' || (ins.kernel !== 'all_gather' && ins.kernel !== 'reduce_scatter')) return;
      const n = ins.spec.ranks as number;
      if (n <= 1) return;
      let g = -1;
      const dropped: number[] = [];
      if (ins.kernel === 'all_gather') {
        // Follow the gathered value forward to the GEMM that consumes it: through the copies that
        // reassemble the pieces (a concatenation) and elementwise kernels (a norm) in between.
        const y = ins.spec.y as PlanView;
        const from = ins.record !== undefined ? waiter.get(ins.record) : undefined;
        if (from === undefined) return;
        const tainted: PlanView[] = [y];
        const touches = (v: unknown) => v !== undefined && tainted.some((t) => overlaps(v as PlanView, t));
        for (let j = from; j < compute.length && j < from + 24; j++) {
          const c = compute[j]!;
          if (c.kernel === 'gemm') {
            if (touches(c.spec.a) || touches(c.spec.b)) {
              g = j;
              break;
            }
            continue;
          }
          const views = Object.values(c.spec).filter((v): v is PlanView => typeof v === 'object' && v !== null && (v as PlanView).slot === 0 && typeof (v as PlanView).bytes === 'number');
          if (!views.some(touches)) continue;
          // The loop multiplies each received chunk in place: no reassembly copy of the gathered value.
          if (c.kernel === 'strided_copy' && touches(c.spec.x)) dropped.push(j);
          tainted.push(...views);
        }
      } else {
        const x = ins.spec.x as PlanView;
        const waits = ins.wait ?? [];
        const before = Math.max(-1, ...waits.map((e) => (recorder.get(e)?.[0] === 0 ? recorder.get(e)![1] : -1)));
        for (let j = before; j >= 0 && j > before - 16; j--) {
          const c = compute[j]!;
          if (c.kernel === 'gemm' && overlaps(c.spec.c as PlanView, x)) {
            g = j;
            break;
          }
        }
      }
      if (g < 0 || used.has(g)) return;
      used.add(g);
      const spec = compute[g]!.spec as Record<string, number>;
      const chunkShape =
        ins.kernel === 'all_gather'
          ? { m: spec.m!, n: spec.n!, k: Math.max(1, Math.round(spec.k! / n)) }
          : { m: Math.max(1, Math.round(spec.m! / n)), n: spec.n!, k: spec.k! };
      const gemmCost = costs[0]![g]!;
      const chunkBytes = gemmCost.bytes / n;
      const gi = gemmSeconds(d, { ...chunkShape, batch: spec.batch ?? 1, bytes: chunkBytes }, gemmRate) + d.launchUs * 1e-6;
      const chunk = ins.kernel === 'all_gather' ? (ins.spec.x as PlanView).bytes : (ins.spec.y as PlanView).bytes;
      const c = link.hopSeconds + chunk / (mode === 'bidirectional' ? 2 : 1) / link.bytesPerSecond;
      const fused = gi + (n - 1) * Math.max(gi, c);
      const coll = costs[si]![i]!;
      pairs.push({ collective: [si, i], gemm: g, kind: ins.kernel, gemmSeconds: gemmCost.seconds, collectiveSeconds: coll.seconds, fusedSeconds: fused });
      gemmCost.seconds = fused;
      coll.seconds = 0;
      for (const j of dropped) costs[0]![j]!.seconds = 0;
    });
  });
  return pairs;
}
