/**
 * Lowering: the scheduled, planned graph becomes a NativePlan, each node's kernels through its op
 * definition's lower(). One stream today; every instruction carries a note naming its node so a
 * failure inside the executor points back at the graph.
 */
import { Vit22bError } from '../../runtime/errors';
import type { NativePlan, PlanInstruction, PlanScalar, PlanView } from '../../runtime/plan-format';
import type { Graph, Node, Value } from '../ir';
import type { LowerContext } from '../op-def';
import { getOp } from '../op-table';
import { byteSize } from '../types';
import type { MemoryPlan } from './memory-plan';

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

export function lower(g: Graph, memory: MemoryPlan): LoweredProgram {
  const readers = new Set<Value>();
  for (const n of g.nodes) for (const v of n.inputs) readers.add(v);
  for (const v of g.outputs.values()) readers.add(v);
  const scalars: RunScalar[] = [];
  const instructions: PlanInstruction[] = [];
  const origins: LoweredProgram['origins'] = [];
  let current: Node | undefined;

  const view = (v: Value): PlanView => {
    const loc = memory.location.get(v);
    const bytes = byteSize(v.type);
    if (!loc || loc.kind === 'none') {
      throw new Vit22bError('ERR_INTERNAL', `value %${v.id} has no memory but is used by ${current?.toString() ?? 'an output'}`, {
        expected: 'a planned location',
        received: 'none',
      });
    }
    if (loc.kind === 'persistent') return { slot: loc.index + 1, offset: 0, bytes };
    return { slot: 0, offset: memory.groups[loc.group]!.offset, bytes };
  };
  const ctx: LowerContext = {
    view,
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
