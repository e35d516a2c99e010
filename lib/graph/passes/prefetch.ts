/**
 * ZeRO-3 prefetch scheduling (SHARDING.md "ZeRO-3 and checkpoints"): each weight's all-gather over
 * `data` moves one layer ahead of its first use and is fenced there, so on the communication stream
 * it runs while the previous layer computes, and no earlier.
 *
 * Why a fence: on a stream of its own a gather of a parameter (a leaf, ready from the start) could
 * begin at the very start of the step, and the memory planner must then reserve every gathered
 * weight from the start (passes/streams.ts concurrentSpans): all layers' weights alive at once,
 * which is what ZeRO-3 exists to avoid. Fenced at the start of the previous layer, a gathered weight
 * lives from there to its last use: with rematerialization 'block' (the gathered weights re-gathered
 * for the backward, not kept across it) at most two layers' gathered weights are alive at any point,
 * the one computing and the one arriving. Without remat the forward's gathered weights are read
 * again by the backward and stay alive in between (ZeRO-3 then saves only the persistent bytes).
 *
 * A layer is a maximal run of nodes of the same phase and builder scope in the schedule (block3 of
 * the forward, block3 of the backward, ...). Runs after rematerialization (its re-gathers are
 * scheduled here too) and before the memory plan; only with overlap other than 'none' (one stream
 * has nothing to prefetch on).
 */
import type { Graph, Node } from '../ir';
import { getOp } from '../op-table';
import { COLLECTIVE_OPS } from '../ops/collective-attrs';

export interface PrefetchReport {
  /** Gathers moved one layer ahead (and fenced there). */
  moved: number;
}

/** The data-axis all_gathers of a parameter (or of its cast) and the cast to move with each. */
function weightGathers(g: Graph): { gather: Node; chain: Node[] }[] {
  const readers = g.consumers();
  const out: { gather: Node; chain: Node[] }[] = [];
  for (const n of g.nodes) {
    if (n.op !== 'all_gather' || n.attrs.axis !== 'data') continue;
    const x = n.inputs[0]!;
    if (x.node.op === 'param') {
      out.push({ gather: n, chain: [] });
      continue;
    }
    // bf16-mixed: the slice is cast first (half the bytes travel); the cast moves with its gather
    // when nothing else reads it.
    const src = x.node.inputs[0];
    if (x.node.op === 'cast' && src?.node.op === 'param' && (readers.get(x) ?? []).length === 1) out.push({ gather: n, chain: [x.node] });
  }
  return out;
}

/**
 * The runs of (phase, scope) in schedule order: the index each starts at. Leaves and the weight
 * gathers themselves (`skip`) do not count: a gather moved into another layer must not split it.
 */
function layerStarts(g: Graph, skip: ReadonlySet<Node>): number[] {
  const starts: number[] = [];
  let key = '';
  g.nodes.forEach((n, i) => {
    if (getOp(n.op).leaf !== undefined || skip.has(n)) return;
    const k = `${n.phase}:${n.scope}`;
    if (k !== key) starts.push(i);
    key = k;
  });
  return starts;
}

export function prefetchWeightGathers(g: Graph): PrefetchReport {
  let moved = 0;
  const all = weightGathers(g);
  const skip = new Set(all.flatMap((w) => [...w.chain, w.gather]));
  for (const { gather, chain } of all) {
    const readers = g.consumers();
    // The first node that reads the gathered weight (through views).
    let first = Infinity;
    const visit = (v: Node['outputs'][number]) => {
      for (const r of readers.get(v) ?? []) {
        if (getOp(r.op).view) r.outputs.forEach(visit);
        else first = Math.min(first, g.nodes.indexOf(r));
      }
    };
    gather.outputs.forEach(visit);
    if (!Number.isFinite(first)) continue;
    const starts = layerStarts(g, skip);
    // The layer of the first reader, and the one before it: the gather goes to the latter's start.
    let layer = -1;
    for (let k = 0; k < starts.length; ++k) if (starts[k]! <= first) layer = k;
    if (layer < 1) continue;
    const target = starts[layer - 1]!;
    if (g.nodes.indexOf(gather) <= target) continue;
    const at = g.nodes[target]!;
    // The parameter leaf stays where it is, even when that is later: a leaf runs nothing and its
    // memory is persistent, and the order of leaves is the order of the persistent slots (and of
    // Program.parameterNames()), which must not depend on the overlap mode.
    const moving = [...chain, gather];
    if (moving.includes(at)) continue;
    g.nodes = g.nodes.filter((n) => !moving.includes(n));
    g.nodes.splice(g.nodes.indexOf(at), 0, ...moving);
    // Fenced: it waits for the compute scheduled before the previous layer (none before the first).
    gather.fence = g.nodes.slice(0, g.nodes.indexOf(at)).some((n) => {
      const def = getOp(n.op);
      return def.leaf === undefined && !def.view && !COLLECTIVE_OPS.has(n.op);
    });
    moved++;
  }
  return { moved };
}
