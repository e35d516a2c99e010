// The planner (lib/plan) against hand arithmetic: bytes per collective, FLOPs and time per GEMM,
// memory per slot, the list scheduler on a two-stream plan with a known critical path, the
// collective matmul costed on the compiler's own ring plan, the mapping of axes onto nodes, and the
// depth extrapolation against a full compile. Nothing here is timed.
import { compileGraph, GraphBuilder, buildVit, getPreset, countParams } from '../../lib';
import { bytesSent, collectiveSeconds } from '../../lib/plan/collective-cost';
import { getDevice } from '../../lib/plan/devices';
import { estimate } from '../../lib/plan/estimate';
import { tileQuantization } from '../../lib/plan/gemm-model';
import { costPlan } from '../../lib/plan/instruction-cost';
import { fitVerdict, RESERVE_BYTES, RESERVE_FRACTION } from '../../lib/plan/memory';
import { schedule } from '../../lib/plan/schedule';
import { topologyOf } from '../../lib/plan/topology';
import type { NativePlan, PlanInstruction } from '../../lib/runtime/plan-format';

const h100 = getDevice('h100-sxm');

function tinyPlan(mesh: { data: number; model: number }, batch = 8) {
  const b = new GraphBuilder({ precision: 'bf16-mixed' });
  buildVit(b, getPreset('tiny'), { batch });
  return compileGraph(b.graph, { train: { loss: 'loss', optimizer: { kind: 'adamw' } }, mesh, zero: 0, overlap: 'streams' });
}

test('collectives: the ring formulas, by hand', () => {
  const link = { bytesPerSecond: 100e9, hopSeconds: 5e-6 };
  const s = 2 ** 20;
  // all-gather of a 1 MiB shard over 4: 3 steps, each sends 1 MiB.
  expect(bytesSent('all_gather', s, 4)).toBe(3 * s);
  expect(collectiveSeconds('all_gather', s, 4, link)).toBeCloseTo(3 * (5e-6 + s / 100e9), 15);
  // reduce-scatter of 4 MiB over 4: 3 steps of 1 MiB.
  expect(bytesSent('reduce_scatter', 4 * s, 4)).toBe(3 * s);
  expect(collectiveSeconds('reduce_scatter', 4 * s, 4, link)).toBeCloseTo(3 * (5e-6 + s / 100e9), 15);
  // all-reduce of 8 MiB over 8: 2·7 steps of 1 MiB (the ring beats the tree at this size).
  expect(bytesSent('all_reduce', 8 * s, 8)).toBe(14 * s);
  expect(collectiveSeconds('all_reduce', 8 * s, 8, link)).toBeCloseTo(14 * (5e-6 + s / 100e9), 15);
  // A 4-byte all-reduce over 64 is latency: the tree's 2·6 hops, not the ring's 126.
  expect(collectiveSeconds('all_reduce', 4, 64, link)).toBeCloseTo(12 * (5e-6 + 4 / 100e9), 15);
  expect(collectiveSeconds('all_gather', s, 1, link)).toBe(0);
});

test('a tiny mesh plan: bytes per collective and FLOPs per GEMM from its shapes', () => {
  const mesh = { data: 2, model: 2 };
  const c = tinyPlan(mesh);
  const plan = c.lowered.plan;
  const topo = topologyOf(mesh, h100);
  const costs = costPlan(plan, { device: h100, topology: topo });
  // tiny: 49 tokens, width 64; 8 images over data=2 -> 4 per device; bf16 activations.
  // The forward reduce-scatter over model of a block's output: its input is [4·49, 64] bf16.
  const rs = plan.streams[1]!.map((ins, i) => [ins, costs[1]![i]!] as const).find(([ins]) => ins.kernel === 'reduce_scatter' && ins.spec.axis === 'model')!;
  expect((rs[0].spec.x as { bytes: number }).bytes).toBe(4 * 49 * 64 * 2);
  expect(rs[1].sentBytes).toBe(((2 - 1) * 4 * 49 * 64 * 2) / 2);
  // NVLink inside one node: 1 step of half the input at 450 GB/s, 3 us hop, 4 us launch.
  expect(rs[1].seconds).toBeCloseTo(1 * (3e-6 + (4 * 49 * 64 * 2) / 2 / 450e9) + 4e-6, 12);
  // The patch embedding GEMM: [4·49, 16] x [16, 64/2]... whatever its shape, FLOPs are 2mnk and
  // its time the larger of padded compute and memory, plus the launch.
  for (const [i, ins] of plan.streams[0]!.entries()) {
    if (ins.kernel !== 'gemm') continue;
    const s = ins.spec as Record<string, number>;
    const x = costs[0]![i]!;
    expect(x.flops).toBe(2 * s.m! * s.n! * s.k! * (s.batch ?? 1));
    const q = (s.m! / (Math.ceil(s.m! / 128) * 128)) * (s.n! / (Math.ceil(s.n! / 128) * 128)) * (s.k! / (Math.ceil(s.k! / 64) * 64));
    expect(tileQuantization(s.m!, s.n!, s.k!, h100.tile)).toBeCloseTo(q, 15);
    const compute = x.flops / (989.4e12 * 0.8 * q);
    const memory = x.bytes / (3350e9 * 0.85);
    expect(x.seconds).toBeCloseTo(Math.max(compute, memory) + 4e-6, 15);
  }
  // The planner's FLOPs are plan-report's (GEMMs and attention).
  const e = estimate({ config: getPreset('tiny'), batch: 8, mesh, overlap: 'streams', device: h100 });
  const report = costs.flat().reduce((t, x) => t + x.flops, 0);
  expect(e.flops.hardwarePerDevice).toBe(report);
  // Traffic per axis sums the instructions.
  const ag = e.communication.find((t) => t.collective === 'all_gather' && t.axis === 'model')!;
  const agIns = plan.streams.flat().filter((i) => i.kernel === 'all_gather' && i.spec.axis === 'model');
  expect(ag.calls).toBe(agIns.length);
  expect(ag.inputBytes).toBe(agIns.reduce((t, i) => t + (i.spec.x as { bytes: number }).bytes, 0));
  expect(ag.carrier).toBe('link');
});

test('memory per slot of the tiny model: 4 bytes per parameter, as many for gradients, 8 for AdamW', () => {
  const params = countParams(getPreset('tiny')).total;
  const e = estimate({ config: getPreset('tiny'), batch: 8, mesh: { data: 1, model: 1 }, device: h100 });
  expect(e.memory.parameters).toBe(4 * params);
  expect(e.memory.gradients).toBe(4 * params);
  expect(e.memory.optimizerState).toBe(8 * params);
  expect(e.memory.total).toBe(e.memory.parameters + e.memory.gradients + e.memory.optimizerState + e.memory.constants + e.memory.arena);
  expect(e.memory.activations + e.memory.gatheredWeights + e.memory.communicationBuffers + e.memory.fragmentation).toBe(e.memory.arena);
  // ZeRO-3 over data=2 halves the stateful slots of the large weights (small ones stay whole).
  const z = estimate({ config: getPreset('tiny'), batch: 8, mesh: { data: 2, model: 1 }, zero: 3, device: h100 });
  expect(z.memory.parameters).toBeLessThan(0.6 * 4 * params);
  expect(z.memory.gatheredWeights).toBeGreaterThan(0);
  // The verdict: 80 GB less 5% and 1.5 GiB.
  const v = fitVerdict(70e9, 80e9);
  expect(v.reserve).toBeCloseTo(80e9 * RESERVE_FRACTION + RESERVE_BYTES, 3);
  expect(v.headroom).toBeCloseTo(80e9 - v.reserve - 70e9, 3);
  expect(v.fits).toBe(true);
  expect(fitVerdict(78e9, 80e9).fits).toBe(false);
});

const ins = (kernel: string, extra: Partial<PlanInstruction> = {}): PlanInstruction => ({ kernel, spec: {}, ...extra });

test('the list scheduler: two streams, events, a known critical path', () => {
  // stream 0: A (2) -> B (3) -> C (1, waits for X); stream 1: X (4, waits for A).
  // A 0-2, B 2-5, X 2-6, C 6-7: the step is 7, the path A -> X -> C; one stream would take 10.
  const plan: NativePlan = {
    version: 1,
    arenaBytes: 0,
    slotBytes: [0],
    events: 2,
    streams: [[ins('A', { record: 0 }), ins('B'), ins('C', { wait: [1] })], [ins('X', { wait: [0], record: 1 })]],
    inputs: [],
    outputs: [],
    scalars: 0,
  };
  const s = schedule(plan, [[2, 3, 1], [4]]);
  expect(s.times[0]).toEqual([{ start: 0, end: 2 }, { start: 2, end: 5 }, { start: 6, end: 7 }]);
  expect(s.times[1]).toEqual([{ start: 2, end: 6 }]);
  expect(s.makespan).toBe(7);
  expect(s.serial).toBe(10);
  expect(s.criticalPath).toEqual([[0, 0], [1, 0], [0, 2]]);
  // When X is short, B is on the path instead.
  expect(schedule(plan, [[2, 3, 1], [1]]).criticalPath).toEqual([[0, 0], [0, 1], [0, 2]]);
  // A wait for an event nobody records before it is refused, not a hang.
  const stuck = { ...plan, streams: [[ins('A', { wait: [1] })], [ins('X', { wait: [0], record: 1 })]], events: 2 };
  expect(() => schedule(stuck, [[1], [1]])).toThrow(/cannot be scheduled/);
});

test('the collective matmul is costed on the plan the compiler emits for it: its permutes are the model axis traffic', () => {
  const mesh = { data: 1, model: 4 };
  const streams = estimate({ config: getPreset('tiny'), batch: 8, mesh, overlap: 'streams', device: h100 });
  const ring = estimate({ config: getPreset('tiny'), batch: 8, mesh, overlap: 'ring', device: h100 });
  expect(ring.overlapModel).toBe('plan');
  const model = (e: typeof ring, kind: string) => e.communication.filter((c) => c.axis === 'model' && c.collective === kind).reduce((n, c) => n + c.calls, 0);
  // The ring moves chunks by collective_permute in place of (some of) the model axis's gathers and scatters.
  expect(model(streams, 'collective_permute')).toBe(0);
  expect(model(ring, 'collective_permute')).toBeGreaterThan(0);
  expect(model(ring, 'all_gather') + model(ring, 'reduce_scatter')).toBeLessThan(model(streams, 'all_gather') + model(streams, 'reduce_scatter'));
  // Same model FLOPs either way: the ring reorders work, it adds none.
  expect(ring.flops.modelPerDevice).toBe(streams.flops.modelPerDevice);
});

test('axes onto nodes: the model axis inside a node first, the data axis across nodes', () => {
  const t = topologyOf({ data: 16, model: 8 }, h100);
  expect(t.nodes).toBe(16);
  expect(t.axes.model.carrier).toBe('link');
  expect(t.axes.model.link.bytesPerSecond).toBe(450e9);
  expect(t.axes.data.carrier).toBe('network');
  expect(t.axes.data.link.bytesPerSecond).toBe(50e9);
  expect(t.axes.data.nodes).toBe(16);
  const small = topologyOf({ data: 2, model: 4 }, h100);
  expect(small.axes.data.carrier).toBe('link');
  const wide = topologyOf({ data: 2, model: 16 }, h100);
  expect(wide.axes.model.carrier).toBe('network');
  expect(wide.axes.model.nodes).toBe(2);
});

test('depth extrapolation from 2 and 3 blocks agrees with the full plan of 10', () => {
  const config = { ...getPreset('vit-s/16'), depth: 10 };
  const mesh = { data: 2, model: 2 };
  const full = estimate({ config, batch: 8, mesh, overlap: 'streams', device: h100, fullDepthMax: Infinity });
  const ex = estimate({ config, batch: 8, mesh, overlap: 'streams', device: h100, fullDepthMax: 2 });
  expect(ex.compiled.extrapolated).toBe(true);
  expect(full.compiled.extrapolated).toBe(false);
  expect(ex.flops.hardwarePerDevice / full.flops.hardwarePerDevice).toBeCloseTo(1, 6);
  expect(ex.memory.parameters / full.memory.parameters).toBeCloseTo(1, 6);
  expect(ex.time.stepSeconds / full.time.stepSeconds).toBeGreaterThan(0.97);
  expect(ex.time.stepSeconds / full.time.stepSeconds).toBeLessThan(1.03);
  expect(ex.memory.arena / full.memory.arena).toBeGreaterThan(0.9);
  expect(ex.memory.arena / full.memory.arena).toBeLessThan(1.1);
});
