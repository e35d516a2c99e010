/**
 * Lowering: the scheduled, planned graph becomes a NativePlan, each node's kernels through its op
 * definition's lower(). One stream today; every instruction carries a note naming its node so a
 * failure inside the executor points back at the graph.
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
  origins: { op: string; phase: string; scope: string }[];
}

export interface RunScalar {
  name: string;
  factor: number;
}

export function lower(g: Graph, memory: MemoryPlan, windows?: WindowPlan): LoweredProgram {
  const readers = new Set<Value>();
  for (const n of g.nodes) for (const v of n.inputs) readers.add(v);
  for (const v of g.outputs.values()) readers.add(v);
  const scalars: RunScalar[] = [];
  const instructions: PlanInstruction[] = [];
  const origins: LoweredProgram['origins'] = [];
  let current: Node | undefined;

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
    emit(kernel, spec) {
      const n = current!;
      instructions.push({ kernel, spec, note: `#${n.id} ${n.op}${n.scope ? ` in ${n.scope}` : ''} (${n.phase})` });
      origins.push({ op: n.op, phase: n.phase, scope: n.scope });
    },
  };
  for (const n of g.nodes) {
    current = n;
    getOp(n.op).lower(ctx, n);
  }
  current = undefined;

  const inputs = g.leaves('input').map((n) => ({ name: n.attrs.name as string, value: n.outputs[0]! }));
  const outputs = [...g.outputs].map(([name, value]) => ({ name, value }));
  const plan: NativePlan = {
    version: 1,
    arenaBytes: memory.arenaBytes,
    slotBytes: [memory.arenaBytes, ...memory.persistent.map((p) => byteSize(p.type))],
    events: 0,
    streams: [instructions],
    inputs: inputs.map((i) => view(i.value)),
    outputs: outputs.map((o) => view(o.value)),
    scalars: scalars.length,
  };
  return { plan, inputs, outputs, scalars, origins };
}
