/**
 * Races between the streams of a plan: two instructions on different streams that touch the same
 * bytes, at least one writing, with no chain of events ordering one before the other. Such a plan
 * gives results that depend on timing (the CPU runs each stream on its own thread; CUDA on its own
 * stream). Which operands a kernel reads and which it writes comes from its declaration
 * (lib/kernels/<kernel>.ts: each buffer's role); operands inside records and lists count as written.
 *
 * Order is happens-before, from stream order and events, computed with vector clocks over the one
 * execution order the executor's simulation also finds.
 */
import { KERNEL_TABLE } from '../kernels/table.gen';
import type { NativePlan, PlanInstruction, PlanView } from './plan-format';

export interface Hazard {
  /** [stream, index] of the two instructions. */
  a: [number, number];
  b: [number, number];
  /** Which of them writes the shared bytes. */
  writes: 'a' | 'b' | 'both';
  slot: number;
  notes: [string, string];
}

interface Access {
  view: PlanView;
  write: boolean;
}

function isView(v: unknown): v is PlanView {
  return typeof v === 'object' && v !== null && typeof (v as PlanView).slot === 'number' && typeof (v as PlanView).bytes === 'number' && typeof (v as PlanView).offset === 'number';
}

/** Every view inside `v`, at any depth. */
function viewsIn(v: unknown, out: PlanView[] = []): PlanView[] {
  if (isView(v)) out.push(v);
  else if (Array.isArray(v)) for (const x of v) viewsIn(x, out);
  else if (typeof v === 'object' && v !== null) for (const x of Object.values(v)) viewsIn(x, out);
  return out;
}

/** The bytes an instruction reads and writes. */
export function accessesOf(ins: PlanInstruction): Access[] {
  const decl = (KERNEL_TABLE as Record<string, { fields: Record<string, { kind: string; role?: string; buffers?: string }> }>)[ins.kernel];
  const out: Access[] = [];
  const seen = new Set<string>();
  for (const [name, field] of Object.entries(decl?.fields ?? {})) {
    const value = ins.spec[name];
    if (field.kind === 'buffer' || field.kind === 'headView') {
      for (const view of viewsIn(value)) out.push({ view, write: field.role !== 'in' });
      seen.add(name);
    } else if (field.kind === 'columns' && field.buffers) {
      for (const view of viewsIn(ins.spec[field.buffers])) out.push({ view, write: false });
      seen.add(field.buffers);
    }
  }
  // Anything else holding views (records, lists, dynamic {read}) is taken as written: safe side.
  for (const [name, value] of Object.entries(ins.spec)) {
    if (seen.has(name)) continue;
    const read = typeof value === 'object' && value !== null && 'read' in (value as object);
    for (const view of viewsIn(value)) out.push({ view, write: !read });
  }
  return out;
}

/** Where view `v` starts on the device whose coordinate on its rank axis is `c`. */
function offsetAt(v: PlanView, c: number): number {
  return v.rank ? v.offset + ((c + v.rank.shift) % v.rank.ranks) * v.rank.step : v.offset;
}

function overlapAt(x: PlanView, cx: number, y: PlanView, cy: number): boolean {
  const a = offsetAt(x, cx);
  const b = offsetAt(y, cy);
  return a < b + y.bytes && b < a + x.bytes;
}

/**
 * Whether two views may share bytes on some device. Rank-relative views (PlanView.rank) are
 * checked device by device: two on the same axis move together (one coordinate), so the ring's
 * "send block i+1 while multiplying block i" is not a race, while any block either may address
 * on some device counts.
 */
function overlaps(x: PlanView, y: PlanView): boolean {
  if (x.slot !== y.slot || x.bytes <= 0 || y.bytes <= 0) return false;
  const rx = x.rank?.ranks ?? 1;
  const ry = y.rank?.ranks ?? 1;
  if (x.rank && y.rank && x.rank.axis === y.rank.axis) {
    for (let c = 0; c < rx; ++c) if (overlapAt(x, c, y, c)) return true;
    return false;
  }
  for (let c = 0; c < rx; ++c) for (let d = 0; d < ry; ++d) if (overlapAt(x, c, y, d)) return true;
  return false;
}

/** The races of `plan` (none for a one-stream plan). */
export function findHazards(plan: NativePlan): Hazard[] {
  const streams = plan.streams;
  if (streams.length < 2) return [];
  // Vector clocks: clock[s][i][t] = how many instructions of stream t are known done when
  // instruction i of stream s starts (+ itself for t = s after it runs).
  const clocks: number[][][] = streams.map(() => []);
  const recordedBy = new Map<number, [number, number]>();
  const next = streams.map(() => 0);
  let progress = true;
  while (progress) {
    progress = false;
    for (let s = 0; s < streams.length; ++s) {
      while (next[s]! < streams[s]!.length) {
        const i = next[s]!;
        const ins = streams[s]![i]!;
        if ((ins.wait ?? []).some((e) => !recordedBy.has(e))) break;
        const clock = i > 0 ? [...clocks[s]![i - 1]!] : streams.map(() => 0);
        for (const e of ins.wait ?? []) {
          const [rs, ri] = recordedBy.get(e)!;
          clocks[rs]![ri]!.forEach((c, t) => (clock[t] = Math.max(clock[t]!, c)));
        }
        clock[s] = i + 1;
        clocks[s]![i] = clock;
        if (ins.record !== undefined) recordedBy.set(ins.record, [s, i]);
        next[s] = i + 1;
        progress = true;
      }
    }
  }
  const before = (s: number, i: number, t: number, j: number) => (clocks[t]![j]?.[s] ?? 0) >= i + 1;
  const accesses = streams.map((list) => list.map(accessesOf));
  const hazards: Hazard[] = [];
  for (let s = 0; s < streams.length; ++s) {
    for (let t = s + 1; t < streams.length; ++t) {
      streams[s]!.forEach((_x, i) => {
        streams[t]!.forEach((_y, j) => {
          if (before(s, i, t, j) || before(t, j, s, i)) return;
          for (const p of accesses[s]![i]!) {
            for (const q of accesses[t]![j]!) {
              if ((p.write || q.write) && overlaps(p.view, q.view)) {
                hazards.push({
                  a: [s, i],
                  b: [t, j],
                  writes: p.write && q.write ? 'both' : p.write ? 'a' : 'b',
                  slot: p.view.slot,
                  notes: [streams[s]![i]!.note ?? streams[s]![i]!.kernel, streams[t]![j]!.note ?? streams[t]![j]!.kernel],
                });
                return;
              }
            }
          }
        });
      });
    }
  }
  return hazards;
}
