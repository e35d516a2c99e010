// A factored Adafactor step computed on shards equals the unsharded step. The sharding work splits
// a weight [rows, cols] over k devices by columns ([rows, cols/k] each) or by rows ([rows/k, cols]
// each); Adafactor's factored second moment needs statistics of the GLOBAL matrix, so each shard runs
// adafactor_stats, the partial statistics are summed over the shards (here on the host in float64:
// what the all-reduce will do), and each shard runs adafactor with them
// (lib/kernels/adafactor.ts "Sharded"):
//   by columns: rowSums summed over the shards, totalCols; vr is replicated (every shard updates the
//               whole vr identically), vc is split; each shard's own column sums are complete;
//   by rows:    colSums and vrSum (the sum of the updated vr) summed over the shards, totalRows; vc is
//               replicated, vr is split; each shard's own row sums are complete.
// For random G [64, 96] (f32 and bf16 gradients), random positive vr / vc and random momentum, the
// reassembled param, vr, vc and momentum of k = 2 and 4 shards, by columns and by rows, over three
// steps in a row, match the unsharded kernel's within
//   |sharded - whole| <= 1e-5 |whole| + 1e-6 max|whole|     (f32 momentum)
// (only the order of f32 sums differs: measured <= 4e-7 relative on vr and vc). With bf16 momentum a stored
// momentum may round to the neighbouring bf16 value, so momentum is then allowed one bf16 step
// (2^-8 |m|) and param lr 2^-8 max|m| more.
import { openDevice, type Device, type DeviceTensor } from '../../lib';
import { thrownBy } from '../helpers/errors';
import { mulberry32, randomBf16BitsArray, randomF32Array, type Rng } from '../helpers/prng';
import { decodeBf16 } from '../helpers/float-reference';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => {
  expect(device.stats()).toMatchObject({ liveBuffers: 0, reclaimedByGc: 0 });
  device.dispose();
});

type DT = 'f32' | 'bf16';
const ROWS = 64;
const COLS = 96;
const EPS = 1e-30;

interface State {
  param: Float32Array;
  momentum: Float32Array; // values (bf16-exact when momentum is bf16)
  vr: Float32Array;
  vc: Float32Array;
}

interface Hyper {
  lr: number;
  lrMult: number;
  weightDecay: number;
  beta1: number;
  decay: number;
  gradScale: number;
}

function randomGrad(rng: Rng, n: number, type: DT): Float32Array {
  return type === 'f32' ? randomF32Array(rng, n, -10, 0) : Float32Array.from(randomBf16BitsArray(rng, n, -10, 0), decodeBf16);
}

function initialState(rng: Rng): State {
  const pos = (k: number): Float32Array => randomF32Array(rng, k, -16, -6).map(Math.abs);
  return {
    param: randomF32Array(rng, ROWS * COLS, -4, 1),
    momentum: Float32Array.from(randomBf16BitsArray(rng, ROWS * COLS, -8, -2), decodeBf16),
    vr: pos(ROWS),
    vc: pos(COLS),
  };
}

/** Columns [c0, c1) of a row-major [rows, cols] matrix. */
function colSlice(a: Float32Array, rows: number, cols: number, c0: number, c1: number): Float32Array {
  const out = new Float32Array(rows * (c1 - c0));
  for (let i = 0; i < rows; i++) out.set(a.subarray(i * cols + c0, i * cols + c1), i * (c1 - c0));
  return out;
}

function colPlace(dst: Float32Array, src: Float32Array, rows: number, cols: number, c0: number, c1: number): void {
  for (let i = 0; i < rows; i++) dst.set(src.subarray(i * (c1 - c0), (i + 1) * (c1 - c0)), i * cols + c0);
}

/** One shard's buffers on the device: [rows, cols] of the shard. */
interface Shard {
  rows: number;
  cols: number;
  param: DeviceTensor;
  grad: DeviceTensor;
  momentum: DeviceTensor;
  vr: DeviceTensor;
  vc: DeviceTensor;
  rowSums: DeviceTensor;
  colSums: DeviceTensor;
  vrSum: DeviceTensor;
}

function shardOf(rows: number, cols: number, s: State, gradType: DT, momentumType: DT): Shard {
  return {
    rows, cols,
    param: device.tensor('f32', [rows, cols], s.param),
    grad: device.alloc(gradType, [rows, cols]),
    momentum: device.tensor(momentumType, [rows, cols], s.momentum),
    vr: device.tensor('f32', [rows], s.vr),
    vc: device.tensor('f32', [cols], s.vc),
    rowSums: device.alloc('f32', [rows]),
    colSums: device.alloc('f32', [cols]),
    vrSum: device.alloc('f32', [1]),
  };
}

function dispose(sh: Shard): void {
  for (const t of [sh.param, sh.grad, sh.momentum, sh.vr, sh.vc, sh.rowSums, sh.colSums, sh.vrSum]) t.dispose();
}

function read(sh: Shard): State {
  return { param: sh.param.toFloat32(), momentum: sh.momentum.toFloat32(), vr: sh.vr.toFloat32(), vc: sh.vc.toFloat32() };
}

function adafactorSpec(sh: Shard, gradType: DT, momentumType: DT, h: Hyper): Record<string, unknown> {
  return {
    rows: sh.rows, cols: sh.cols, factored: true, gradType, momentumType,
    param: sh.param.buffer, grad: sh.grad.buffer, momentum: sh.momentum.buffer, vr: sh.vr.buffer, vc: sh.vc.buffer,
    lr: h.lr, lrMult: h.lrMult, weightDecay: h.weightDecay, beta1: h.beta1, decay: h.decay, eps: EPS, gradScale: h.gradScale, clipThreshold: 0,
  };
}

function launch(kernel: string, spec: Record<string, unknown>): void {
  (device.native.launch.bind(device.native) as (k: string, s: object) => void)(kernel, spec);
}

/** The float64 sum over shards of one statistic, elementwise (the all-reduce), rounded to f32. */
function allReduce(parts: Float32Array[]): Float32Array {
  const sum = new Float64Array(parts[0]!.length);
  for (const p of parts) for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + p[i]!;
  return Float32Array.from(sum);
}

/** k shards by columns: stats, the all-reduce of rowSums, the step. Returns each shard's state. */
function stepByColumns(shards: Shard[], grad: Float32Array, gradType: DT, momentumType: DT, h: Hyper): void {
  const c = COLS / shards.length;
  shards.forEach((sh, s) => {
    sh.grad.upload(colSlice(grad, ROWS, COLS, s * c, (s + 1) * c));
    launch('adafactor_stats', { gradType, rows: ROWS, cols: c, grad: sh.grad.buffer, eps: EPS, gradScale: h.gradScale, decay: h.decay, totalCols: COLS, rowSums: sh.rowSums.buffer, colSums: sh.colSums.buffer });
  });
  const rowSums = allReduce(shards.map((sh) => sh.rowSums.toFloat32()));
  for (const sh of shards) {
    sh.rowSums.upload(rowSums);
    launch('adafactor', { ...adafactorSpec(sh, gradType, momentumType, h), rowSums: sh.rowSums.buffer, totalCols: COLS });
  }
}

function stepByRows(shards: Shard[], grad: Float32Array, gradType: DT, momentumType: DT, h: Hyper): void {
  const r = ROWS / shards.length;
  shards.forEach((sh, s) => {
    sh.grad.upload(grad.subarray(s * r * COLS, (s + 1) * r * COLS));
    launch('adafactor_stats', {
      gradType, rows: r, cols: COLS, grad: sh.grad.buffer, eps: EPS, gradScale: h.gradScale, decay: h.decay, totalCols: COLS,
      rowSums: sh.rowSums.buffer, colSums: sh.colSums.buffer, vr: sh.vr.buffer, vrSum: sh.vrSum.buffer,
    });
  });
  const colSums = allReduce(shards.map((sh) => sh.colSums.toFloat32()));
  const vrSum = allReduce(shards.map((sh) => sh.vrSum.toFloat32()));
  for (const sh of shards) {
    sh.colSums.upload(colSums);
    sh.vrSum.upload(vrSum);
    launch('adafactor', { ...adafactorSpec(sh, gradType, momentumType, h), colSums: sh.colSums.buffer, vrSum: sh.vrSum.buffer, totalRows: ROWS });
  }
}

function expectClose(what: string, got: Float32Array, want: Float32Array, rel: number, absOfMax: number, extraAbs = 0): void {
  expect(got.length).toBe(want.length);
  let max = 0;
  for (const x of want) max = Math.max(max, Math.abs(x));
  for (let k = 0; k < want.length; k++) {
    const err = Math.abs(got[k]! - want[k]!);
    const bound = rel * Math.abs(want[k]!) + absOfMax * max + extraAbs;
    if (!(err <= bound)) throw new Error(`${what}[${k}]: sharded ${got[k]}, whole ${want[k]}, |error| ${err} > ${bound}`);
  }
}

function compare(what: string, got: State, want: State, momentumType: DT, h: Hyper): void {
  const bf16 = momentumType === 'bf16';
  let mMax = 0;
  for (const x of want.momentum) mMax = Math.max(mMax, Math.abs(x));
  expectClose(`${what} vr`, got.vr, want.vr, 1e-5, 0);
  expectClose(`${what} vc`, got.vc, want.vc, 1e-5, 0);
  expectClose(`${what} momentum`, got.momentum, want.momentum, 1e-5 + (bf16 ? 2 ** -8 : 0), 1e-6);
  expectClose(`${what} param`, got.param, want.param, 1e-5, 1e-6, bf16 ? h.lr * h.lrMult * 2 ** -8 * mMax * 3 : 0);
}

const STEPS = 3;


function hyperAt(step: number): Hyper {
  return { lr: 1e-2, lrMult: 0.7, weightDecay: 0.1, beta1: 0.9, decay: Math.min(0.999, 1 - step ** -0.8), gradScale: step === 2 ? 0.6 : 1 };
}

describe.each([
  ['f32', 'f32'],
  ['bf16', 'f32'],
  ['bf16', 'bf16'],
] as const)('%s gradients, %s momentum', (gradType, momentumType) => {
  for (const k of [2, 4]) {
    test(`${k} shards by columns and by rows follow the unsharded step for ${STEPS} steps`, () => {
      const rng = mulberry32(1000 + k * 17 + (gradType === 'bf16' ? 1 : 0) + (momentumType === 'bf16' ? 2 : 0));
      const init = initialState(rng);
      const grads = Array.from({ length: STEPS }, () => randomGrad(rng, ROWS * COLS, gradType));
      const whole = shardOf(ROWS, COLS, init, gradType, momentumType);
      const c = COLS / k;
      const r = ROWS / k;
      const byCols = Array.from({ length: k }, (_, s) =>
        shardOf(ROWS, c, { param: colSlice(init.param, ROWS, COLS, s * c, (s + 1) * c), momentum: colSlice(init.momentum, ROWS, COLS, s * c, (s + 1) * c), vr: init.vr, vc: init.vc.slice(s * c, (s + 1) * c) }, gradType, momentumType),
      );
      const byRows = Array.from({ length: k }, (_, s) =>
        shardOf(r, COLS, { param: init.param.slice(s * r * COLS, (s + 1) * r * COLS), momentum: init.momentum.slice(s * r * COLS, (s + 1) * r * COLS), vr: init.vr.slice(s * r, (s + 1) * r), vc: init.vc }, gradType, momentumType),
      );
      try {
        for (let step = 1; step <= STEPS; step++) {
          const h = hyperAt(step);
          const grad = grads[step - 1]!;
          whole.grad.upload(grad);
          launch('adafactor', adafactorSpec(whole, gradType, momentumType, h));
          stepByColumns(byCols, grad, gradType, momentumType, h);
          stepByRows(byRows, grad, gradType, momentumType, h);
          const want = read(whole);
          // By columns: param, momentum and vc reassembled from the shards; every replica of vr.
          const cols: State = { param: new Float32Array(ROWS * COLS), momentum: new Float32Array(ROWS * COLS), vr: new Float32Array(0), vc: new Float32Array(COLS) };
          byCols.forEach((sh, s) => {
            const got = read(sh);
            colPlace(cols.param, got.param, ROWS, COLS, s * c, (s + 1) * c);
            colPlace(cols.momentum, got.momentum, ROWS, COLS, s * c, (s + 1) * c);
            cols.vc.set(got.vc, s * c);
            compare(`step ${step}, by columns, shard ${s} (replicated vr)`, { ...want, vr: got.vr }, want, momentumType, h);
            if (s > 0) expect(got.vr).toEqual(byCols[0]!.vr.toFloat32()); // replicas stay identical
          });
          compare(`step ${step}, by columns`, { ...cols, vr: byCols[0]!.vr.toFloat32() }, want, momentumType, h);
          // By rows: param, momentum and vr reassembled; every replica of vc.
          const rows: State = { param: new Float32Array(ROWS * COLS), momentum: new Float32Array(ROWS * COLS), vr: new Float32Array(ROWS), vc: new Float32Array(0) };
          byRows.forEach((sh, s) => {
            const got = read(sh);
            rows.param.set(got.param, s * r * COLS);
            rows.momentum.set(got.momentum, s * r * COLS);
            rows.vr.set(got.vr, s * r);
            compare(`step ${step}, by rows, shard ${s} (replicated vc)`, { ...want, vc: got.vc }, want, momentumType, h);
            if (s > 0) expect(got.vc).toEqual(byRows[0]!.vc.toFloat32());
          });
          compare(`step ${step}, by rows`, { ...rows, vc: byRows[0]!.vc.toFloat32() }, want, momentumType, h);
        }
      } finally {
        for (const sh of [whole, ...byCols, ...byRows]) dispose(sh);
      }
    });
  }
});

test('a column shard computes its own column sums and a row shard its own row sums exactly as the whole does', () => {
  // The shared summation (native/cpu/adafactor_sums.h): a shard's complete sums are the unsharded
  // step's bit for bit, so only the all-reduced statistics differ in rounding.
  const rng = mulberry32(5);
  const grad = randomGrad(rng, ROWS * COLS, 'bf16');
  const g = device.tensor('bf16', [ROWS, COLS], grad);
  const rowSums = device.alloc('f32', [ROWS]);
  const colSums = device.alloc('f32', [COLS]);
  const half = device.tensor('bf16', [ROWS, COLS / 2], colSlice(grad, ROWS, COLS, 0, COLS / 2));
  const halfRows = device.alloc('f32', [ROWS]);
  const halfCols = device.alloc('f32', [COLS / 2]);
  const top = device.tensor('bf16', [ROWS / 2, COLS], grad.subarray(0, (ROWS / 2) * COLS));
  const topRows = device.alloc('f32', [ROWS / 2]);
  const topCols = device.alloc('f32', [COLS]);
  try {
    const base = { gradType: 'bf16', eps: EPS, gradScale: 0.7, decay: 0.5 };
    launch('adafactor_stats', { ...base, rows: ROWS, cols: COLS, grad: g.buffer, rowSums: rowSums.buffer, colSums: colSums.buffer });
    launch('adafactor_stats', { ...base, rows: ROWS, cols: COLS / 2, grad: half.buffer, rowSums: halfRows.buffer, colSums: halfCols.buffer });
    launch('adafactor_stats', { ...base, rows: ROWS / 2, cols: COLS, grad: top.buffer, rowSums: topRows.buffer, colSums: topCols.buffer });
    expect(halfCols.toFloat32()).toEqual(colSums.toFloat32().slice(0, COLS / 2));
    expect(topRows.toFloat32()).toEqual(rowSums.toFloat32().slice(0, ROWS / 2));
  } finally {
    for (const t of [g, rowSums, colSums, half, halfRows, halfCols, top, topRows, topCols]) t.dispose();
  }
});

test('sharded statistics with block-RMS clipping, or missing ones, are typed errors', () => {
  const rng = mulberry32(6);
  const s0 = initialState(rng);
  const half = (ROWS / 2) * COLS;
  const sh = shardOf(ROWS / 2, COLS, { param: s0.param.slice(0, half), momentum: s0.momentum.slice(0, half), vr: s0.vr.slice(0, ROWS / 2), vc: s0.vc }, 'f32', 'f32');
  try {
    const spec = adafactorSpec(sh, 'f32', 'f32', hyperAt(2));
    expect(thrownBy(() => launch('adafactor', { ...spec, colSums: sh.colSums.buffer, vrSum: sh.vrSum.buffer, totalRows: ROWS, clipThreshold: 1 }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', expected: 'clipThreshold 0' });
    expect(thrownBy(() => launch('adafactor', { ...spec, colSums: sh.colSums.buffer, totalRows: ROWS }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', expected: 'vrSum [1] f32' });
    expect(thrownBy(() => launch('adafactor', { ...spec, vrSum: sh.vrSum.buffer, totalRows: ROWS }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', expected: `colSums [${COLS}] f32` });
    expect(thrownBy(() => launch('adafactor', { ...spec, totalCols: COLS * 2 }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', expected: `rowSums [${ROWS / 2}] f32` });
    expect(thrownBy(() => launch('adafactor', { ...spec, rowSums: sh.vc.buffer }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', expected: 'distinct buffers' });
  } finally {
    dispose(sh);
  }
});
