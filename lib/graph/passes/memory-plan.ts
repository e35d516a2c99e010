/**
 * Where every value lives: persistent slots (parameters, optimizer state, constants, gradients)
 * or the activation arena, at offsets from liveness (assign-offsets.ts). Views share their source's
 * memory; windows (passes/windows.ts) live inside their base's buffer, which stays alive while any
 * window is read, and a concatenation's buffer exists from its first placed piece on; an op's
 * declared in-place output shares an input's memory when that input dies at the op. The arena size
 * is known here, before anything runs.
 */
import type { LeafLayout } from './partition';
import { concurrentSpans } from './streams';
import { DTYPE_BYTES } from '../../runtime/dtype';
import { Vit22bError } from '../../runtime/errors';
import type { Graph, Node, Value } from '../ir';
import { getOp } from '../op-table';
import type { InitSpec } from '../ops/leaf';
import { byteSize, numel, type TensorType } from '../types';
import { assignOffsets, type Lifetime } from './assign-offsets';
import type { WindowPlan } from './windows';

export interface PersistentBuffer {
  name: string;
  type: TensorType;
  kind: 'param' | 'state' | 'const' | 'grad';
  init?: InitSpec;
  /** Under a mesh: the global tensor this buffer is one device's slice of (absent: the whole). */
  layout?: LeafLayout;
}

/** A value inside its group's buffer (passes/windows.ts): rows of rowLen elements from `offset`. */
export interface WindowLocation {
  offset: number;
  rowLen: number;
  rowStride: number;
}

export type Location =
  | { kind: 'arena'; group: number; window?: WindowLocation }
  | { kind: 'persistent'; index: number }
  | { kind: 'none' };

export interface MemoryPlan {
  location: Map<Value, Location>;
  /** Arena groups (buffers after aliasing) with their lifetimes and offsets. */
  groups: (Lifetime & { offset: number })[];
  persistent: PersistentBuffer[];
  /** `${nodeId}:${out}:${in}` for each output placed on an input's memory. */
  inPlace: Set<string>;
  arenaBytes: number;
  persistentBytes: number;
  /** Bytes the arena would need without any reuse: the sum of every group. */
  unsharedBytes: number;
}

export const ARENA_ALIGN = 256;

function inPlacePairs(n: Node): readonly (readonly [number, number])[] {
  const p = getOp(n.op).inPlace;
  return typeof p === 'function' ? p(n) : (p ?? []);
}

/**
 * `streamOf` (passes/streams.ts): with nodes on several streams, the buffers a collective reads or
 * writes stay reserved from when it may start (right after its inputs' producers) until compute has
 * waited for it, since compute in between runs concurrently with it.
 */
export function planMemory(g: Graph, windows?: WindowPlan, align = ARENA_ALIGN, streamOf?: (n: Node) => number): MemoryPlan {
  const index = new Map<Node, number>(g.nodes.map((n, i) => [n, i]));
  const end = g.nodes.length;
  const outputs = new Set(g.outputs.values());
  const lastRead = new Map<Value, number>();
  for (const n of g.nodes) for (const v of n.inputs) lastRead.set(v, index.get(n)!);
  for (const v of outputs) lastRead.set(v, end);
  const startAt = new Map<Value, number>();
  if (streamOf) {
    for (const [n, { start, join }] of concurrentSpans(g, streamOf)) {
      for (const v of [...n.inputs, ...n.outputs]) lastRead.set(v, Math.max(lastRead.get(v) ?? index.get(n)!, join));
      for (const o of n.outputs) startAt.set(o, start);
    }
  }
  const used = (v: Value) => lastRead.has(v) || v.persistentName !== undefined;

  const location = new Map<Value, Location>();
  const persistent: PersistentBuffer[] = [];
  const groups: Lifetime[] = [];
  const inPlace = new Set<string>();

  const addPersistent = (v: Value, p: PersistentBuffer) => {
    location.set(v, { kind: 'persistent', index: persistent.length });
    persistent.push(p);
  };

  for (const n of g.nodes) {
    const i = index.get(n)!;
    const def = getOp(n.op);
    for (const v of n.outputs) {
      if (def.leaf === 'param' || def.leaf === 'state' || def.leaf === 'const') {
        const name = (n.attrs.name as string) || `const/${v.id}`;
        const init: InitSpec | undefined =
          def.leaf !== 'const'
            ? (n.attrs.init as InitSpec | undefined)
            : n.attrs.data instanceof Float32Array
              ? { dist: 'data', values: n.attrs.data }
              : { dist: 'constant', value: n.attrs.value as number };
        const layout = n.attrs.layout as LeafLayout | undefined;
        addPersistent(v, { name, type: v.type, kind: def.leaf, init, ...(layout ? { layout } : {}) });
        continue;
      }
      if (v.persistentName !== undefined) {
        const layout = v.persistentLayout;
        addPersistent(v, { name: v.persistentName, type: v.type, kind: 'grad', init: { dist: 'constant', value: 0 }, ...(layout ? { layout } : {}) });
        continue;
      }
      const w = windows?.windows.get(v);
      if (w) {
        let base = location.get(w.base);
        if (!base) {
          // A concatenation's output: its buffer exists from its first piece on.
          base = { kind: 'arena', group: groups.length };
          groups.push({ bytes: byteSize(w.base.type), start: i, end: lastRead.get(w.base) ?? i });
          location.set(w.base, base);
        }
        if (base.kind !== 'arena' || base.window) {
          throw new Vit22bError('ERR_INTERNAL', `value %${v.id} was given a window of %${w.base.id}, which has no arena buffer of its own`, {
            expected: 'a dense arena value',
            received: JSON.stringify(base),
          });
        }
        location.set(v, { kind: 'arena', group: base.group, window: { offset: w.offset, rowLen: w.rowLen, rowStride: w.rowStride } });
        extend(groups[base.group]!, lastRead.get(v) ?? i);
        continue;
      }
      const early = location.get(v);
      if (early) {
        // Allocated with its first piece (above).
        if (early.kind === 'arena') extend(groups[early.group]!, lastRead.get(v) ?? i);
        continue;
      }
      if (def.view) {
        const src = location.get(n.inputs[0]!)!;
        location.set(v, src);
        if (src.kind === 'arena') extend(groups[src.group]!, lastRead.get(v) ?? i);
        continue;
      }
      if (!used(v) && def.optionalOutputs?.includes(v.index)) {
        location.set(v, { kind: 'none' });
        continue;
      }
      const pair = inPlacePairs(n).find(([out, inp]) => {
        if (out !== v.index) return false;
        const u = n.inputs[inp]!;
        const loc = location.get(u);
        return (
          loc?.kind === 'arena' &&
          // A dense kernel writing over a window would clobber its neighbours.
          !loc.window &&
          groups[loc.group]!.end === i &&
          !outputs.has(u) &&
          // The kernel must not read that memory through another operand while it writes it.
          !n.inputs.some((w, k) => k !== inp && sameMemory(location.get(w), loc)) &&
          byteSize(u.type) === byteSize(v.type) &&
          ![...inPlace].some((k) => k.startsWith(`${n.id}:`) && k.endsWith(`:${inp}`))
        );
      });
      if (pair) {
        const loc = location.get(n.inputs[pair[1]]!)! as { kind: 'arena'; group: number };
        location.set(v, loc);
        extend(groups[loc.group]!, lastRead.get(v) ?? i);
        inPlace.add(`${n.id}:${pair[0]}:${pair[1]}`);
        continue;
      }
      // Inputs are uploaded before the first instruction, so they are live from the start.
      const start = def.leaf === 'input' ? 0 : Math.min(i, startAt.get(v) ?? i);
      location.set(v, { kind: 'arena', group: groups.length });
      groups.push({ bytes: byteSize(v.type), start, end: lastRead.get(v) ?? i });
    }
  }
  const { offsets, peak } = assignOffsets(groups, align);
  const elem = (t: TensorType) => numel(t.shape) * DTYPE_BYTES[t.dtype];
  return {
    location,
    groups: groups.map((gr, k) => ({ ...gr, offset: offsets[k]! })),
    persistent,
    inPlace,
    arenaBytes: peak,
    persistentBytes: persistent.reduce((s, p) => s + elem(p.type), 0),
    unsharedBytes: groups.reduce((s, gr) => s + gr.bytes, 0),
  };
}

function sameMemory(a: Location | undefined, b: Location): boolean {
  return a?.kind === 'arena' && b.kind === 'arena' && a.group === b.group;
}

function extend(group: Lifetime, end: number): void {
  group.end = Math.max(group.end, end);
}
