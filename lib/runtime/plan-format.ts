/**
 * The Plan: what lib/graph lowers a program to and native/exec runs. This file is the contract
 * between the two sides; native/addon/plan_loader.cc reads exactly these fields, native/exec runs
 * them.
 *
 * A plan is per device. Its memory is a list of slots: slot 0 is the activation arena, allocated by
 * the executor (`arenaBytes`, offsets assigned by the memory planner); slots 1.. are persistent
 * buffers (parameters, gradients, optimizer state, constants) that the caller owns and passes to
 * `Device.loadPlan`, so they outlive any one plan and can be read or written by name between steps.
 *
 * Instructions are kernel launches in the spec format of `DeviceHandle.launch(kernel, spec)`, with
 * every buffer operand given as a PlanView instead of a buffer handle. Each stream is an ordered
 * list; `wait`/`record` events order instructions across streams. Compiled plans use one stream,
 * or two with `overlap: 'streams'` (collectives on stream 1; lib/graph/passes/streams.ts). Two
 * instructions of different streams that touch the same bytes, one writing, must be ordered by
 * events: loadPlan refuses the plan otherwise (lib/runtime/plan-hazards.ts).
 */

/**
 * `bytes` bytes of slot `slot` starting at byte `offset`. With `rank`, the view is rank-relative:
 * on the device whose coordinate on mesh axis `rank.axis` is c, it starts
 * ((c + rank.shift) % rank.ranks) * rank.step bytes further on, resolved when the device loads the
 * plan (native/addon/plan_operands.cc); `ranks` must be that axis's size. One SPMD plan then
 * addresses a different block on each device (the collective matmul's ring, lib/graph/ops/ring-matmul.ts).
 * The race checker counts every block the view may address on any device.
 */
export interface PlanView {
  slot: number;
  offset: number;
  bytes: number;
  rank?: RankOffset;
}

export interface RankOffset {
  axis: 'data' | 'model';
  ranks: number;
  /** 0 .. ranks - 1. */
  shift: number;
  /** Bytes between the blocks. */
  step: number;
}

/**
 * A scalar operand of an instruction. A number is fixed when the plan is loaded. `{ scalar: i }` is
 * the i-th entry of the `scalars` array given to each run (learning rate, step number). `{ read: v }`
 * is an f32 read from plan memory just before the instruction runs (a clip factor computed on the
 * device earlier in the same step; the view holds at least 4 bytes). Dynamic values are checked at
 * each run against the field's range; a bad one rejects the run with ERR_INVALID_ARGUMENT. Only the
 * spec fields documented as dynamic accept the object forms:
 *   adamw, adamw_multi:  lr, step, gradScale, weightDecay
 *   adafactor:           lr, decay, gradScale, weightDecay
 *   adafactor_stats:     gradScale, decay
 *   axpby:               alpha, beta
 */
export type PlanScalar = number | { scalar: number } | { read: PlanView };

export interface PlanInstruction {
  /** A kernel launcher name, one of DeviceHandle.kernels(). */
  kernel: string;
  /** The launch() spec with PlanViews for buffers (and PlanScalars where documented). */
  spec: Record<string, unknown>;
  /** Events that must have been recorded (on any stream) before this instruction starts. */
  wait?: number[];
  /** An event recorded when this instruction has finished. Each event is recorded exactly once. */
  record?: number;
  /** Where the instruction came from (graph node and op), quoted in error messages. */
  note?: string;
}

export interface NativePlan {
  version: 1;
  /** Bytes of slot 0, the arena. */
  arenaBytes: number;
  /**
   * Byte size of every slot: slotBytes[0] === arenaBytes; slotBytes[i] for i >= 1 must equal the byte
   * size of the buffer given for slot i (one buffer may back several slots: their views then alias).
   */
  slotBytes: number[];
  /** Number of events; ids are 0 .. events - 1, and every one is recorded by exactly one instruction. */
  events: number;
  /** Instructions per stream (at least one stream). */
  streams: PlanInstruction[][];
  /** Uploaded in this order from run()'s `inputs` before the first instruction. */
  inputs: PlanView[];
  /** Downloaded in this order after the last instruction; run() resolves with their bytes. */
  outputs: PlanView[];
  /** How many runtime scalars run() takes. */
  scalars: number;
}
