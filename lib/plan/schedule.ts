/**
 * A list scheduler over a plan's own streams and events: each stream runs its instructions in
 * order, one at a time; an instruction starts when its stream is free and every event it waits for
 * has been recorded (at the end of the instruction that records it). This is exactly the order the
 * executor enforces, so the overlap it finds is the overlap the plan allows, not a guess.
 *
 * The critical path is found backwards from the instruction that ends last: each step goes to what
 * held the instruction back (its stream predecessor, or the recorder of the latest event it waited
 * for), until an instruction that started at time 0.
 */
import { Vit22bError } from '../runtime/errors';
import type { NativePlan } from '../runtime/plan-format';

export interface Scheduled {
  start: number;
  end: number;
}

export interface Schedule {
  /** Per stream, per instruction. */
  times: Scheduled[][];
  /** When the last instruction ends. */
  makespan: number;
  /** Sum of every duration (what one stream running everything would take). */
  serial: number;
  /** Busy time of each stream. */
  busy: number[];
  /** [stream, index] from the first instruction of the critical path to the last. */
  criticalPath: [number, number][];
}

export function schedule(plan: NativePlan, durations: number[][]): Schedule {
  const streams = plan.streams;
  const times: Scheduled[][] = streams.map((s) => new Array<Scheduled>(s.length));
  const recordedAt = new Array<number>(plan.events).fill(NaN);
  const recorder = new Array<[number, number]>(plan.events);
  const next = streams.map(() => 0);
  const free = streams.map(() => 0);
  let remaining = streams.reduce((n, s) => n + s.length, 0);
  while (remaining > 0) {
    let progressed = false;
    for (let si = 0; si < streams.length; si++) {
      const list = streams[si]!;
      while (next[si]! < list.length) {
        const i = next[si]!;
        const ins = list[i]!;
        let ready = free[si]!;
        let blocked = false;
        for (const e of ins.wait ?? []) {
          const t = recordedAt[e]!;
          if (Number.isNaN(t)) {
            blocked = true;
            break;
          }
          ready = Math.max(ready, t);
        }
        if (blocked) break;
        const end = ready + durations[si]![i]!;
        times[si]![i] = { start: ready, end };
        free[si] = end;
        if (ins.record !== undefined) {
          recordedAt[ins.record] = end;
          recorder[ins.record] = [si, i];
        }
        next[si] = i + 1;
        remaining--;
        progressed = true;
      }
    }
    if (!progressed) {
      throw new Vit22bError('ERR_INVALID_PLAN', 'the plan cannot be scheduled: every stream waits for an event no instruction before it records', {
        expected: 'events recorded before they are waited for',
        received: `stuck at ${next.map((n, s) => `stream ${s} instruction ${n}`).join(', ')}`,
      });
    }
  }
  let makespan = 0;
  let last: [number, number] | undefined;
  times.forEach((list, si) =>
    list.forEach((t, i) => {
      if (t.end > makespan || last === undefined) {
        makespan = Math.max(makespan, t.end);
        if (t.end >= makespan) last = [si, i];
      }
    }),
  );
  const busy = durations.map((d) => d.reduce((a, b) => a + b, 0));
  const criticalPath: [number, number][] = [];
  let at = last;
  while (at) {
    criticalPath.push(at);
    const [si, i] = at;
    const t = times[si]![i]!;
    if (t.start <= 0) break;
    const ins = streams[si]![i]!;
    let from: [number, number] | undefined;
    for (const e of ins.wait ?? []) if (recordedAt[e] === t.start) from = recorder[e];
    if (!from && i > 0 && times[si]![i - 1]!.end === t.start) from = [si, i - 1];
    if (!from) from = i > 0 ? [si, i - 1] : undefined;
    at = from;
  }
  criticalPath.reverse();
  return { times, makespan, serial: busy.reduce((a, b) => a + b, 0), busy, criticalPath };
}
