// The graph ops of a sharded factored Adafactor step (lib/graph/ops/adafactor-stats.ts,
// adafactor-update.ts `stats`), as the sharding compiler will use them, in one program: a [64, 96]
// parameter held whole, as two column shards [64, 48] and as two row shards [32, 96]; each shard's
// adafactor_stats, the partial statistics added (an `add` stands in for the all-reduce over the
// mesh), then adafactor_update on each shard with the stats. After two steps (decay from the run's
// step, a clip factor read from device memory) the reassembled shards equal the whole parameter's
// update within |sharded - whole| <= 1e-5 |whole| + 1e-6 max|whole|. Also the ops' typed errors.
import { openDevice, type Device } from '../../lib/runtime';
import { compile } from '../../lib/graph/compile';
import { GraphBuilder } from '../../lib/graph/builder';
import type { Value } from '../../lib/graph/ir';
import { thrownBy } from '../helpers/errors';
import { mulberry32, randomF32Array } from '../helpers/prng';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => device.dispose());

const R = 64;
const C = 96;
const factored = { factored: true, beta1: 0.9, eps: 1e-30, weightDecay: 0.05, lrMult: 0.5, hasClip: true };

function model(b: GraphBuilder): void {
  const g = b.graph;
  const clip = b.constant([], 0.75);
  const states = new Map<string, Value>();
  const state = (name: string, shape: number[]): Value => {
    if (!states.has(name)) states.set(name, b.state(name, shape));
    return states.get(name)!;
  };
  const update = (tag: string, grad: Value, rows: number, cols: number, stats?: { values: Value[]; attrs: Record<string, unknown> }) => {
    const inputs = [state(`p/${tag}`, [rows, cols]), grad, state(`m/${tag}`, [rows, cols]), state(`vr/${tag}`, [rows]), state(`vc/${tag}`, [cols]), clip];
    g.add('adafactor_update', [...inputs, ...(stats?.values ?? [])], { ...factored, rows, cols, ...(stats ? { stats: stats.attrs } : {}) });
  };
  update('whole', b.input('g', [R, C]), R, C);
  // Two column shards: the row sums are all-reduced.
  const gc = [b.input('gc0', [R, C / 2]), b.input('gc1', [R, C / 2])];
  const cs = gc.map((x) => g.add('adafactor_stats', [x, clip], { rows: R, cols: C / 2, hasClip: true, totalCols: C }));
  const rowSums = b.add(cs[0]!.outputs[0]!, cs[1]!.outputs[0]!);
  gc.forEach((x, s) => update(`c${s}`, x, R, C / 2, { values: [rowSums], attrs: { rowSums: true, totalCols: C } }));
  // Two row shards: the column sums and the sum of the updated vr are all-reduced.
  const gr = [b.input('gr0', [R / 2, C]), b.input('gr1', [R / 2, C])];
  const rs = gr.map((x, s) => g.add('adafactor_stats', [x, clip, state(`vr/r${s}`, [R / 2])], { rows: R / 2, cols: C, hasClip: true, vrSum: true }));
  const colSums = b.add(rs[0]!.outputs[1]!, rs[1]!.outputs[1]!);
  const vrSum = b.add(rs[0]!.outputs[2]!, rs[1]!.outputs[2]!);
  gr.forEach((x, s) => update(`r${s}`, x, R / 2, C, { values: [colSums, vrSum], attrs: { colSums: true, vrSum: true, totalRows: R } }));
  b.output('vrSum', vrSum);
}

function expectClose(what: string, got: Float32Array, want: Float32Array): void {
  let max = 0;
  for (const x of want) max = Math.max(max, Math.abs(x));
  for (let k = 0; k < want.length; k++) {
    const err = Math.abs(got[k]! - want[k]!);
    if (!(err <= 1e-5 * Math.abs(want[k]!) + 1e-6 * max)) throw new Error(`${what}[${k}]: sharded ${got[k]}, whole ${want[k]}, |error| ${err}`);
  }
}

test('column and row shards through adafactor_stats and adafactor_update equal the whole step', async () => {
  const rng = mulberry32(21);
  using p = compile((b) => model(b), { device, inputShapes: { g: [R, C], gc0: [R, C / 2], gc1: [R, C / 2], gr0: [R / 2, C], gr1: [R / 2, C] } });
  const pos = (n: number) => randomF32Array(rng, n, -16, -6).map(Math.abs);
  const init = { p: randomF32Array(rng, R * C, -4, 1), m: randomF32Array(rng, R * C, -8, -2), vr: pos(R), vc: pos(C) };
  const cols = (a: Float32Array, s: number) => Float32Array.from({ length: R * (C / 2) }, (_, k) => a[Math.floor(k / (C / 2)) * C + s * (C / 2) + (k % (C / 2))]!);
  const rows = (a: Float32Array, s: number, w: number) => a.slice(s * (R / 2) * w, (s + 1) * (R / 2) * w);
  p.write('p/whole', init.p);
  p.write('m/whole', init.m);
  p.write('vr/whole', init.vr);
  p.write('vc/whole', init.vc);
  for (const s of [0, 1]) {
    p.write(`p/c${s}`, cols(init.p, s));
    p.write(`m/c${s}`, cols(init.m, s));
    p.write(`vr/c${s}`, init.vr);
    p.write(`vc/c${s}`, init.vc.slice(s * (C / 2), (s + 1) * (C / 2)));
    p.write(`p/r${s}`, rows(init.p, s, C));
    p.write(`m/r${s}`, rows(init.m, s, C));
    p.write(`vr/r${s}`, init.vr.slice(s * (R / 2), (s + 1) * (R / 2)));
    p.write(`vc/r${s}`, init.vc);
  }
  for (let step = 1; step <= 2; step++) {
    const g = randomF32Array(rng, R * C, -10, 0);
    await p.run({ g, gc0: cols(g, 0), gc1: cols(g, 1), gr0: rows(g, 0, C), gr1: rows(g, 1, C) }, { lr: 0.01, step });
  }
  const read = (name: string) => p.read(name) as Float32Array;
  const whole = { p: read('p/whole'), m: read('m/whole'), vr: read('vr/whole'), vc: read('vc/whole') };
  for (const key of ['p', 'm'] as const) {
    const byCols = new Float32Array(R * C);
    for (const s of [0, 1]) {
      const part = read(`${key}/c${s}`);
      for (let i = 0; i < R; i++) byCols.set(part.subarray(i * (C / 2), (i + 1) * (C / 2)), i * C + s * (C / 2));
    }
    expectClose(`${key} by columns`, byCols, whole[key]);
    const byRows = new Float32Array(R * C);
    for (const s of [0, 1]) byRows.set(read(`${key}/r${s}`), s * (R / 2) * C);
    expectClose(`${key} by rows`, byRows, whole[key]);
  }
  for (const s of [0, 1]) {
    expectClose(`vr replica c${s}`, read(`vr/c${s}`), whole.vr);
    expectClose(`vc replica r${s}`, read(`vc/r${s}`), whole.vc);
  }
  expectClose('vc by columns', Float32Array.of(...read('vc/c0'), ...read('vc/c1')), whole.vc);
  expectClose('vr by rows', Float32Array.of(...read('vr/r0'), ...read('vr/r1')), whole.vr);
});

test('adafactor_update stats and adafactor_stats attrs are checked when the graph is built', () => {
  const b = new GraphBuilder();
  const g = b.graph;
  const param = b.state('p', [32, 48]);
  const grad = b.input('g', [32, 48]);
  const m = b.state('m', [32, 48]);
  const vr = b.state('vr', [32]);
  const vc = b.state('vc', [48]);
  const colSums = b.state('cs', [48]);
  const vrSum = b.state('s', [1]);
  const base = { rows: 32, cols: 48, factored: true };
  const upd = (inputs: Value[], attrs: Record<string, unknown>) => thrownBy(() => g.add('adafactor_update', [param, grad, m, vr, vc, ...inputs], { ...base, ...attrs }));
  expect(upd([colSums, vrSum], { clipThreshold: 1, stats: { colSums: true, vrSum: true, totalRows: 64 } })).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', expected: 'clipThreshold 0' });
  expect(upd([colSums], { stats: { colSums: true, totalRows: 64 } })).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', expected: 'stats.vrSum: true' });
  expect(upd([vrSum], { stats: { vrSum: true, totalRows: 64 } })).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', expected: 'stats.colSums: true' });
  expect(upd([colSums, vrSum], { stats: { colSums: true, vrSum: true, totalRows: 16 } })).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  expect(upd([vrSum, colSums], { stats: { colSums: true, vrSum: true, totalRows: 64 } })).toMatchObject({ code: 'ERR_SHAPE_MISMATCH' });
  expect(upd([colSums], { stats: { colSums: true, vrSum: true, totalRows: 64 } })).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  expect(thrownBy(() => g.add('adafactor_update', [param, grad, m, param], { ...base, factored: false, stats: {} }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  expect(thrownBy(() => g.add('adafactor_stats', [grad], { rows: 32, cols: 48, vrSum: true }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  expect(thrownBy(() => g.add('adafactor_stats', [grad, vc], { rows: 32, cols: 48, vrSum: true }))).toMatchObject({ code: 'ERR_SHAPE_MISMATCH' });
  expect(thrownBy(() => g.add('adafactor_stats', [grad], { rows: 32, cols: 48, totalCols: 40 }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  const ok = g.add('adafactor_stats', [grad, vr], { rows: 32, cols: 48, vrSum: true });
  expect(ok.outputs.map((v) => v.shape)).toEqual([[32], [48], [1]]);
});
