/** Hand-written plans for the executor tests: arena layout and plan assembly. */
import type { NativePlan, PlanInstruction, PlanView } from '../../lib';

/** Places views one after another in slot 0, 64-byte aligned like a memory planner would. */
export class ArenaLayout {
  private end = 0;

  view(bytes: number): PlanView {
    const v = { slot: 0, offset: this.end, bytes };
    this.end += Math.max(64, Math.ceil(bytes / 64) * 64);
    return v;
  }

  get bytes(): number {
    return this.end;
  }
}

/** The whole of persistent slot `slot` (1..), or `bytes` of it from `offset`. */
export function slotView(slot: number, bytes: number, offset = 0): PlanView {
  return { slot, offset, bytes };
}

export interface PlanParts {
  arena: ArenaLayout | number;
  /** Bytes of slots 1.. (the tensors passed to loadPlan). */
  slots?: number[];
  streams: PlanInstruction[][];
  inputs?: PlanView[];
  outputs?: PlanView[];
  events?: number;
  scalars?: number;
}

export function planOf(p: PlanParts): NativePlan {
  const arenaBytes = typeof p.arena === 'number' ? p.arena : p.arena.bytes;
  return {
    version: 1,
    arenaBytes,
    slotBytes: [arenaBytes, ...(p.slots ?? [])],
    events: p.events ?? 0,
    streams: p.streams,
    inputs: p.inputs ?? [],
    outputs: p.outputs ?? [],
    scalars: p.scalars ?? 0,
  };
}

/** The bytes of a typed array or ArrayBuffer, for exact comparisons. */
export function bytesOf(x: ArrayBufferView | ArrayBuffer): Uint8Array {
  return x instanceof ArrayBuffer ? new Uint8Array(x) : new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
}
