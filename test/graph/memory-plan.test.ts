/**
 * The memory planner. Property tests: buffers alive at the same time never get overlapping bytes
 * (checked on random lifetimes, and on real training graphs by replaying the schedule and asking,
 * at every write, whether it clobbers a value still to be read); the arena is at most the sum of
 * all buffers and at least the most bytes ever live at once; it is known before anything runs.
 */
import { GraphBuilder } from '../../lib/graph/builder';
import { compileGraph } from '../../lib/graph/compile';
import type { Value } from '../../lib/graph/ir';
import { getOp } from '../../lib/graph/op-table';
import { alignUp, assignOffsets, type Lifetime } from '../../lib/graph/passes/assign-offsets';
import type { MemoryPlan } from '../../lib/graph/passes/memory-plan';
import type { RematPolicy } from '../../lib/graph/passes/remat';
import type { WindowPlan } from '../../lib/graph/passes/windows';
import { byteSize, numel } from '../../lib/graph/types';
import { DTYPE_BYTES } from '../../lib/runtime/dtype';
import { buildVit } from '../../lib/model/vit';
import { getPreset } from '../../lib/model/presets';
import { mulberry32, randInt } from '../helpers/prng';
import { mlp, transformer } from '../helpers/graph-models';

describe('assignOffsets on random lifetimes', () => {
  test('300 random sets: no overlap among co-live buffers; lower bound <= peak <= sum', () => {
    for (let seed = 1; seed <= 300; ++seed) {
      const rng = mulberry32(seed);
      const n = randInt(rng, 1, 60);
      const align = [1, 64, 256][seed % 3]!;
      const bufs: Lifetime[] = Array.from({ length: n }, () => {
        const start = randInt(rng, 0, 40);
        return { bytes: randInt(rng, 0, 5000), start, end: start + randInt(rng, 0, 15) };
      });
      const { offsets, peak } = assignOffsets(bufs, align);
      for (let i = 0; i < n; ++i) {
        expect(offsets[i]! % align).toBe(0);
        for (let j = i + 1; j < n; ++j) {
          const a = bufs[i]!;
          const b = bufs[j]!;
          const coLive = a.start <= b.end && b.start <= a.end;
          const disjoint = a.bytes === 0 || b.bytes === 0 || offsets[i]! + a.bytes <= offsets[j]! || offsets[j]! + b.bytes <= offsets[i]!;
          if (coLive && !disjoint) throw new Error(`seed ${seed}: buffers ${i} and ${j} overlap while both live`);
        }
      }
      const sum = bufs.reduce((s, b) => s + alignUp(b.bytes, align), 0);
      let lower = 0;
      for (let t = 0; t <= 60; ++t) lower = Math.max(lower, bufs.filter((b) => b.start <= t && t <= b.end).reduce((s, b) => s + b.bytes, 0));
      expect(peak).toBeLessThanOrEqual(sum);
      expect(peak).toBeGreaterThanOrEqual(lower);
    }
  });
});

/**
 * Replays the schedule. The memory a value occupies must not be written by anything else between
 * its definition and its last read (reads through views count), except by an output the op declares
 * in place on it at its last read. A value in a window (passes/windows.ts) occupies its rows only:
 * a slice made a view writes nothing, and a concatenation writes nothing over its placed pieces.
 */
function checkNoClobber(nodes: readonly import('../../lib/graph/ir').Node[], outputs: Set<Value>, memory: MemoryPlan, windows?: WindowPlan): number {
  // Byte ranges [begin, end) of v's memory: one range, or one per row of a window.
  const ranges = (v: Value): [number, number][] => {
    const loc = memory.location.get(v);
    if (!loc || loc.kind !== 'arena') return [];
    const off = memory.groups[loc.group]!.offset;
    const w = loc.window;
    if (!w) return [[off, off + byteSize(v.type)]];
    const el = DTYPE_BYTES[v.dtype];
    const rows = numel(v.shape) / w.rowLen;
    return Array.from({ length: rows }, (_, r) => [off + (w.offset + r * w.rowStride) * el, off + (w.offset + r * w.rowStride + w.rowLen) * el] as [number, number]);
  };
  const overlap = (a: [number, number][], b: [number, number][]) => a.some(([a0, a1]) => b.some(([b0, b1]) => a0 < b1 && b0 < a1));
  // The root value whose memory a view reads.
  const root = (v: Value): Value => (getOp(v.node.op).view ? root(v.node.inputs[0]!) : v);
  const lastRead = new Map<Value, number>();
  nodes.forEach((n, i) => n.inputs.forEach((v) => lastRead.set(root(v), i)));
  for (const v of outputs) lastRead.set(root(v), nodes.length);
  const defined: Value[] = [];
  let writes = 0;
  nodes.forEach((n, i) => {
    const def = getOp(n.op);
    for (const out of n.outputs) {
      if (def.view || def.leaf) {
        if (def.leaf === 'input') defined.push(out);
        continue;
      }
      const w = ranges(out);
      if (w.length === 0) continue;
      if (windows?.windows.has(out) && n.op === 'slice') {
        defined.push(out); // a view of its source: nothing written
        continue;
      }
      // Placed pieces are already in their concatenation's output: it does not write them again.
      const placed = new Set(n.inputs.filter((u) => windows?.placed.has(u)).map(root));
      writes++;
      for (const u of defined) {
        if (placed.has(u) || !((lastRead.get(u) ?? -1) >= i)) continue;
        if (!overlap(ranges(u), w)) continue;
        const pairs = typeof def.inPlace === 'function' ? def.inPlace(n) : (def.inPlace ?? []);
        const declared = pairs.some(([o, k]) => o === out.index && root(n.inputs[k]!) === u && lastRead.get(u) === i && memory.inPlace.has(`${n.id}:${o}:${k}`));
        if (!declared) throw new Error(`${n.toString()} writes %${out.id} over %${u.id} (still read at node ${lastRead.get(u)})`);
      }
      defined.push(out);
    }
  });
  return writes;
}

describe('planMemory on training graphs', () => {
  const configs: [string, (b: GraphBuilder) => void][] = [
    ['mlp depth 3', (b) => mlp(b, { batch: 16, features: 12, hidden: 32, classes: 5, depth: 3 })],
    ['transformer depth 2', (b) => transformer(b, { batch: 2, tokens: 6, width: 16, heads: 2, mlp: 32, classes: 4, depth: 2 })],
    // The ViT builder: q, k, v and the MLP input cut out of one fused projection (windows), and the
    // classic sequential block with its QKV slices and class token.
    ['vit tiny (parallel, QK-norm, MAP)', (b) => buildVit(b, getPreset('tiny', { depth: 2, imageSize: 8 }), { batch: 2 })],
    ['vit classic (sequential, class token)', (b) => buildVit(b, getPreset('vit-ti/16', { depth: 2, imageSize: 32, width: 24, heads: 2, mlpDim: 48, numClasses: 5 }), { batch: 2 })],
  ];
  for (const [name, build] of configs) {
    for (const remat of ['none', 'selective', 'block'] as RematPolicy[]) {
      for (const fusion of [true, false]) {
        test(`${name}, remat ${remat}, fusion ${fusion}: no clobbering, sum >= arena >= live bound`, () => {
          const b = new GraphBuilder();
          build(b);
          const { graph, memory, windows } = compileGraph(b.graph, { train: { loss: 'loss', optimizer: { kind: 'adamw' } }, remat, fusion });
          const writes = checkNoClobber(graph.nodes, new Set(graph.outputs.values()), memory, windows?.plan);
          expect(writes).toBeGreaterThan(10);
          expect(memory.arenaBytes).toBeLessThanOrEqual(memory.groups.reduce((s, g) => s + alignUp(g.bytes, 256), 0));
          expect(memory.arenaBytes).toBeGreaterThan(0);
          const maxLive = Math.max(...graph.nodes.map((_, t) => memory.groups.filter((g) => g.start <= t && t <= g.end).reduce((s, g) => s + g.bytes, 0)));
          expect(memory.arenaBytes).toBeGreaterThanOrEqual(maxLive);
        });
      }
    }
  }

  test('the replay check catches a plan that puts co-live values on the same bytes', () => {
    const b = new GraphBuilder();
    mlp(b, { batch: 4, features: 3, hidden: 8, classes: 2, depth: 2 });
    const { graph, memory } = compileGraph(b.graph, { train: { loss: 'loss', optimizer: { kind: 'adamw' } } });
    for (const g of memory.groups) g.offset = 0;
    expect(() => checkNoClobber(graph.nodes, new Set(graph.outputs.values()), memory)).toThrow(/writes .* over/);
  });

  test('rematerialization lowers the arena of a deeper transformer', () => {
    const arena = (remat: RematPolicy) => {
      const b = new GraphBuilder();
      transformer(b, { batch: 4, tokens: 16, width: 32, heads: 4, mlp: 128, classes: 4, depth: 4 });
      return compileGraph(b.graph, { train: { loss: 'loss', optimizer: { kind: 'adamw' } }, remat }).memory.arenaBytes;
    };
    const none = arena('none');
    const selective = arena('selective');
    const block = arena('block');
    expect(selective).toBeLessThan(none);
    expect(block).toBeLessThan(selective);
  });
});
