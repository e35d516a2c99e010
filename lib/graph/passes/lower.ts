/**
 * Lowering: the scheduled, planned graph becomes a NativePlan, each node's kernels through its op
 * definition's lower(), on the stream passes/streams.ts gives the node (a node may also put some
 * instructions on another stream: the collective matmul's permutes). Every instruction carries a
 * note naming its node so a failure inside the executor points back at the graph.
 */
import { Vit22bError } from '../../runtime/errors';
import type { NativePlan, PlanInstruction, PlanScalar, PlanView } from '../../runtime/plan-format';
import type { Graph, Node, Value } from '../ir';
import type { LowerContext, Window } from '../op-def';
import { getOp } from '../op-table';
import { DTYPE_BYTES } from '../../runtime/dtype';
import { byteSize, numel } from '../types';
import type { MemoryPlan } from './memory-plan';
import type { WindowPlan } from './windows';

export interface LoweredProgram {
  plan: NativePlan;
  /** Input leaf names in the order run() uploads them, with their values. */
  inputs: { name: string; value: Value }[];
  /** Output names in the order the plan downloads them. */
  outputs: { name: string; value: Value }[];
  /** Runtime scalars in plan order: the run scalar `name` ('lr', 'step', ...) times `factor`. */
  scalars: RunScalar[];
  /** For each instruction of stream 0, the node it lowers (profiles group time by op and phase). */
  origins: Origin[];
  /** The same for every stream: streamOrigins[stream][index]. */
  streamOrigins: Origin[][];
}

export interface Origin {
  op: string;
  phase: string;
  scope: string;
}

export interface RunScalar {
  name: string;
  factor: number;
}

/**
 * `streamOf` (passes/streams.ts) puts each node's instructions on a stream. Across streams, events
 * order what the memory says must be ordered: a node waits for the instructions that produced its
 * inputs on another stream (through nodes that emit nothing: views, windows), and a node that
 * writes persistent memory in place (an optimizer update) waits for every reader of it on another
 * stream (a collective gathering a weight). Within a stream, order is the schedule's.
 */
export function lower(g: Graph, memory: MemoryPlan, windows?: WindowPlan, streamOf: (n: Node) => number = () => 0): LoweredProgram {
  const readers = new Set<Value>();
  for (const n of g.nodes) for (const v of n.inputs) readers.add(v);
  for (const v of g.outputs.values()) readers.add(v);
  const scalars: RunScalar[] = [];
  const streams: PlanInstruction[][] = [[]];
  const streamOrigins: Origin[][] = [[]];
  let events = 0;
  /** The instructions whose writes a value holds (its producer's last, or its sources' through nodes that emitted nothing). */
  const producedBy = new Map<Value, { stream: number; ins: PlanInstruction }[]>();
  /** Instructions that read a persistent value, by stream (for writers of it in place). */
  const readersOf = new Map<Value, { stream: number; ins: PlanInstruction }[]>();
  const eventOf = (ins: PlanInstruction) => (ins.record ??= events++);
  let current: Node | undefined;
  let currentStream = 0;
  // Waits not yet attached, per stream. A node that emits nothing (a view, a window) passes its
  // waits on to the next instruction of its stream: nothing in between touches memory, so the
  // memory planner's notion of where a stream waits (passes/streams.ts) stays true.
  const pendingWaits: number[][] = [[]];
  let emitted: PlanInstruction[] = [];
  /** The stream of each instruction of the node being lowered; streams it has used besides its own. */
  const emittedStream = new Map<PlanInstruction, number>();
  const sideStarted = new Set<number>();
  /** How many instructions the node's stream held before the node. */
  let nodeStart = 0;

  const strided = (v: Value): { view: PlanView; window?: Window } => {
    const loc = memory.location.get(v);
    const bytes = byteSize(v.type);
    if (!loc || loc.kind === 'none') {
      throw new Vit22bError('ERR_INTERNAL', `value %${v.id} has no memory but is used by ${current?.toString() ?? 'an output'}`, {
        expected: 'a planned location',
        received: 'none',
      });
    }
    if (loc.kind === 'persistent') return { view: { slot: loc.index + 1, offset: 0, bytes } };
    const base = memory.groups[loc.group]!.offset;
    const w = loc.window;
    if (!w) return { view: { slot: 0, offset: base, bytes } };
    // From the first element to the last: rows - 1 strides and one row.
    const el = DTYPE_BYTES[v.dtype];
    const n = numel(v.shape);
    const rows = n === 0 ? 0 : n / w.rowLen;
    const extent = rows === 0 ? 0 : (rows - 1) * w.rowStride + w.rowLen;
    const view = { slot: 0, offset: base + w.offset * el, bytes: extent * el };
    // One row is plain memory at an offset.
    return rows <= 1 ? { view } : { view, window: { rowLen: w.rowLen, rowStride: w.rowStride } };
  };
  const view = (v: Value): PlanView => {
    const s = strided(v);
    if (s.window) {
      throw new Vit22bError('ERR_INTERNAL', `value %${v.id} lives in a strided window but ${current?.toString() ?? 'an output'} reads it as dense`, {
        expected: 'a lowering that declares windowInput / windowOutput',
        received: JSON.stringify(s.window),
      });
    }
    return s.view;
  };
  const ctx: LowerContext = {
    view,
    strided,
    aliased: (v) => {
      const loc = memory.location.get(v);
      return loc?.kind === 'arena' && loc.window !== undefined;
    },
    placed: (piece) => windows?.placed.has(piece) ?? false,
    used: (v) => readers.has(v) || v.persistentName !== undefined,
    inPlace: (node, out, input) => memory.inPlace.has(`${node.id}:${out}:${input}`),
    runtimeScalar(name: string, factor = 1): PlanScalar {
      let i = scalars.findIndex((s) => s.name === name && s.factor === factor);
      if (i < 0) i = scalars.push({ name, factor }) - 1;
      return { scalar: i };
    },
    emit(kernel, spec, options) {
      const n = current!;
      const stream = options?.stream ?? currentStream;
      const ins: PlanInstruction = { kernel, spec, note: `#${n.id} ${n.op}${n.scope ? ` in ${n.scope}` : ''} (${n.phase})` };
      while (streams.length <= stream) {
        streams.push([]);
        streamOrigins.push([]);
        pendingWaits.push([]);
      }
      const waits: number[] = [];
      if (stream === currentStream) {
        // The node's first instruction carries its waits; later ones follow it on the same stream.
        waits.push(...pendingWaits[currentStream]!);
        pendingWaits[currentStream] = [];
      } else if (!sideStarted.has(stream)) {
        // Off the node's stream: it starts after everything scheduled before the node (on the
        // node's stream, and through it whatever that waited for), so the memory the node is given
        // is free by then, and after the node's inputs from other streams.
        sideStarted.add(stream);
        const before = nodeStart > 0 ? streams[currentStream]![nodeStart - 1] : undefined;
        if (before) waits.push(eventOf(before));
        for (const v of n.inputs) for (const p of sources(v)) if (p.stream !== stream) waits.push(eventOf(p.ins));
      }
      for (const a of options?.after ?? []) {
        const s = emittedStream.get(a);
        if (s === undefined) throw new Vit22bError('ERR_INTERNAL', `${n.toString()}: an instruction waits for one not emitted by its node`, { expected: 'an instruction of this node', received: a.kernel });
        if (s !== stream) waits.push(eventOf(a));
      }
      if (waits.length) ins.wait = [...new Set(waits)];
      streams[stream]!.push(ins);
      streamOrigins[stream]!.push({ op: n.op, phase: n.phase, scope: n.scope });
      emitted.push(ins);
      emittedStream.set(ins, stream);
      return ins;
    },
  };
  const sources = (v: Value) => producedBy.get(v) ?? [];
  for (const n of g.nodes) {
    current = n;
    currentStream = streamOf(n);
    emitted = [];
    emittedStream.clear();
    sideStarted.clear();
    const def = getOp(n.op);
    const waits: number[] = [];
    for (const v of n.inputs) for (const p of sources(v)) if (p.stream !== currentStream) waits.push(eventOf(p.ins));
    // A fenced node (a prefetch, passes/prefetch.ts) also waits for the compute stream's last
    // instruction so far: it starts where the schedule put it, not as soon as its inputs exist.
    if (n.fence && currentStream !== 0 && streams[0]!.length > 0) waits.push(eventOf(streams[0]![streams[0]!.length - 1]!));
    if (def.effect) {
      for (const v of n.inputs) for (const r of readersOf.get(v) ?? []) if (r.stream !== currentStream) waits.push(eventOf(r.ins));
    }
    while (pendingWaits.length <= currentStream) pendingWaits.push([]);
    nodeStart = streams[currentStream]?.length ?? 0;
    pendingWaits[currentStream]!.push(...waits);
    def.lower(ctx, n);
    if (emitted.length === 0) {
      // Nothing ran (a view, a window): its outputs hold what its inputs held.
      const through = n.inputs.flatMap(sources);
      for (const o of n.outputs) producedBy.set(o, through);
    } else {
      // What the node produced is complete at its last instruction on its own stream (a node that
      // also used another stream orders that one's work before it).
      const own = emitted.filter((i) => emittedStream.get(i) === currentStream);
      if (own.length === 0) throw new Vit22bError('ERR_INTERNAL', `${n.toString()} emitted nothing on its own stream`, { expected: 'its last instruction on stream ' + currentStream, received: 'none' });
      const last = { stream: currentStream, ins: own[own.length - 1]! };
      for (const o of n.outputs) producedBy.set(o, [last]);
      for (const v of n.inputs) if (def.leaf === undefined && getOp(v.node.op).leaf !== undefined) readersOf.set(v, [...(readersOf.get(v) ?? []), last]);
    }
  }
  current = undefined;
  const origins = streamOrigins[0]!;

  const inputs = g.leaves('input').map((n) => ({ name: n.attrs.name as string, value: n.outputs[0]! }));
  const outputs = [...g.outputs].map(([name, value]) => ({ name, value }));
  const plan: NativePlan = {
    version: 1,
    arenaBytes: memory.arenaBytes,
    slotBytes: [memory.arenaBytes, ...memory.persistent.map((p) => byteSize(p.type))],
    events,
    streams,
    inputs: inputs.map((i) => view(i.value)),
    outputs: outputs.map((o) => view(o.value)),
    scalars: scalars.length,
  };
  return { plan, inputs, outputs, scalars, origins, streamOrigins };
}
