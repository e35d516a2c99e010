/**
 * A step as a timeline: the last profiled run of a program as Chrome trace events (the JSON that
 * Perfetto and chrome://tracing open). One process per device (named by its rank and mesh
 * coordinates), one thread per plan stream, one complete event per instruction, named by its kernel
 * and carrying the op, phase and block it lowers. Devices of a mesh share one clock, so their tracks
 * line up: a collective waiting for a slower peer shows as a long span on the waiting device.
 */
import type { SessionProfileEntry } from '../runtime/session';

export interface TraceEvent {
  name: string;
  ph: 'X' | 'M';
  pid: number;
  tid: number;
  ts?: number;
  dur?: number;
  cat?: string;
  args?: Record<string, unknown>;
}

export interface ChromeTrace {
  traceEvents: TraceEvent[];
  displayTimeUnit: 'ms';
}

export interface TimelineInput {
  entries: readonly SessionProfileEntry[];
  /** What instruction i of each stream lowers (LoweredProgram.streamOrigins). */
  origins: readonly (readonly { op: string; phase: string; scope: string }[])[];
  coordinates(rank: number): { data: number; model: number };
}

export function chromeTrace({ entries, origins, coordinates }: TimelineInput): ChromeTrace {
  const timed = entries.filter((e) => e.endNs > 0);
  const t0 = Math.min(...timed.map((e) => e.startNs));
  const events: TraceEvent[] = [];
  const ranks = [...new Set(timed.map((e) => e.rank))].sort((a, b) => a - b);
  for (const rank of ranks) {
    const c = coordinates(rank);
    events.push({ name: 'process_name', ph: 'M', pid: rank, tid: 0, args: { name: `rank ${rank} (data ${c.data}, model ${c.model})` } });
    for (const stream of [...new Set(timed.filter((e) => e.rank === rank).map((e) => e.stream))]) {
      events.push({ name: 'thread_name', ph: 'M', pid: rank, tid: stream, args: { name: stream === 0 ? 'compute (stream 0)' : `stream ${stream}` } });
    }
  }
  for (const e of timed) {
    const origin = origins[e.stream]?.[e.index];
    events.push({
      name: e.kernel,
      ph: 'X',
      pid: e.rank,
      tid: e.stream,
      // Microseconds, the unit of the format.
      ts: (e.startNs - t0) / 1e3,
      dur: (e.endNs - e.startNs) / 1e3,
      cat: origin?.op ?? 'plan',
      args: origin ? { op: origin.op, phase: origin.phase, scope: origin.scope, instruction: e.index } : { instruction: e.index },
    });
  }
  return { traceEvents: events, displayTimeUnit: 'ms' };
}
