/**
 * Cases of "adafactor" (lib/kernels/adafactor.ts; the formula is written out in
 * native/cpu/adafactor.cc): one step of big_vision's Adafactor for a parameter viewed as
 * [rows, cols], factored (row and column statistics vr, vc) or not (a full v), with f32 or bf16
 * gradients and momentum, update clipping on or off, lrMult, weight decay and a gradient scale.
 *
 * Reference: the formula in float64, from the f32 values of the scalars, written here:
 *   g = scale grad;  s = g^2 + eps;  d = decay
 *   factored:   vr = d vr + (1-d) rowmean(s);  vc = d vc + (1-d) colmean(s);  v_hat = vr_i vc_j / mean(vr)
 *   unfactored: v_hat = v = d v + (1-d) s
 *   u = g / sqrt(v_hat);  clipThreshold > 0: u /= max(1, rms(u) / clipThreshold)
 *   m = beta1 m + (1-beta1) u;  param -= lr (lrMult m + weightDecay param)
 * The stored momentum is the f32 m rounded to bf16 when momentumType is bf16; the update uses the f32
 * m. Sharded cases (a shard of a [totalRows, totalCols] parameter, lib/kernels/adafactor.ts "Sharded")
 * take the given rowSums / colSums in place of the shard's own sums, divide by totalCols / totalRows,
 * and take mean(vr) = vrSum / totalRows when vrSum is given. One case checks a known answer instead: a rank-1 gradient a b^T, which the factored estimate
 * matches exactly (u = sign(g)).
 *
 * CPU tolerance, test/kernels/adafactor.test.ts's bounds (f32 kernel, sums of up to a few hundred
 * terms; R = 2e-6) in abs + rel form:
 *   vr, vc, v: rel R (sums of positive terms);
 *   m (f32):   |err| <= 4R (beta1 |m| + (1-beta1) |u|) -> rel 4R, abs 4R max(beta1 |m| + (1-beta1) |u|);
 *   m (bf16):  plus one bf16 rounding: rel 2^-8 + 4R;
 *   param:     |err| <= R |p| + 4R lr (lrMult |m'| + wd |p|) + 1e-12 |p'|, with |p| <= |p'| + lr (...)
 *              -> rel R + 1e-12, abs 5R max lr (lrMult |m'| + wd |p|).
 * GPU tolerance (CUDA vs CPU), test/gpu/optim-checks.cjs (R' = 8e-6): vr, vc, v rel 3e-5; momentum
 * 20R' (|m| + 1), plus 2 2^-8 |m| when stored in bf16; param R' |p| + lr lrMult 20R' (|m| + 1),
 * with |m| taken as this case's largest.
 */
import type { CaseBuffer, KernelCase, KernelCases, Tolerance } from './case-types';
import { rng, roundTo } from './case-kit';

type DT = 'f32' | 'bf16';

const f = Math.fround;
const R = 2e-6;
const GPU_R = 8e-6;

interface Hyper {
  lr: number;
  lrMult: number;
  weightDecay: number;
  beta1: number;
  decay: number;
  eps: number;
  gradScale: number;
  clipThreshold: number;
}

/** big_vision's second-moment decay at `step` (from 1): min(0.999, 1 - step^-0.8). */
function decayAt(step: number): number {
  return Math.min(0.999, 1 - step ** -0.8);
}

function hyper(step: number, h: Partial<Hyper>): Hyper {
  return { lr: 1e-3, lrMult: 1, weightDecay: 0, beta1: 0.9, decay: decayAt(step), eps: 1e-30, gradScale: 1, clipThreshold: 0, ...h };
}

/** Values with a random sign and a magnitude 2^e, e uniform in [minExp, maxExp]: many scales at once. */
function spread(n: number, seed: number, minExp: number, maxExp: number): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() < 0.5 ? -1 : 1) * 2 ** (minExp + (maxExp - minExp) * r());
  return out;
}

interface Shape {
  rows: number;
  cols: number;
  factored: boolean;
  /** A shard's global dims (default rows, cols); the stats buffers are then in `init`. */
  totalRows?: number;
  totalCols?: number;
}

interface StepResult {
  out: Record<string, Float64Array>;
  /** max(beta1 |m| + (1-beta1) |u|), max lr (lrMult |m'| + wd |p|) and max |m'|, for the bounds. */
  mTerms: number;
  pTerms: number;
  mMax: number;
}

/** One Adafactor step in float64 (the formula above). */
function adafactorStep(sh: Shape, init: Record<string, ArrayLike<number>>, hy: Hyper): StepResult {
  const { rows, cols } = sh;
  const n = rows * cols;
  const [lr, lrMult, wd, b1, d, eps, scale, clip] = [hy.lr, hy.lrMult, hy.weightDecay, hy.beta1, hy.decay, hy.eps, hy.gradScale, hy.clipThreshold].map(f) as number[] as [number, number, number, number, number, number, number, number];
  const g = new Float64Array(n);
  for (let k = 0; k < n; k++) g[k] = scale * init.grad![k]!;
  const sq = g.map((x) => x * x + eps);
  const out: Record<string, Float64Array> = {};
  const u = new Float64Array(n);
  if (sh.factored) {
    const vr = new Float64Array(rows);
    const vc = new Float64Array(cols);
    const totalRows = sh.totalRows ?? rows;
    const totalCols = sh.totalCols ?? cols;
    for (let i = 0; i < rows; i++) {
      let sum = 0;
      for (let j = 0; j < cols; j++) sum += sq[i * cols + j]!;
      if (init.rowSums) sum = init.rowSums[i]!;
      vr[i] = d * init.vr![i]! + (1 - d) * (sum / totalCols);
    }
    for (let j = 0; j < cols; j++) {
      let sum = 0;
      for (let i = 0; i < rows; i++) sum += sq[i * cols + j]!;
      if (init.colSums) sum = init.colSums[j]!;
      vc[j] = d * init.vc![j]! + (1 - d) * (sum / totalRows);
    }
    let vrSum = 0;
    for (let i = 0; i < rows; i++) vrSum += vr[i]!;
    if (init.vrSum) vrSum = init.vrSum[0]!;
    const vrMean = vrSum / totalRows;
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) u[i * cols + j] = g[i * cols + j]! / Math.sqrt((vr[i]! * vc[j]!) / vrMean);
    }
    out.vr = vr;
    out.vc = vc;
  } else {
    const v = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      v[k] = d * init.v![k]! + (1 - d) * sq[k]!;
      u[k] = g[k]! / Math.sqrt(v[k]!);
    }
    out.v = v;
  }
  if (clip > 0) {
    let ss = 0;
    for (let k = 0; k < n; k++) ss += u[k]! * u[k]!;
    const c = Math.max(1, Math.sqrt(ss / n) / clip);
    for (let k = 0; k < n; k++) u[k] = u[k]! / c;
  }
  const m = new Float64Array(n);
  const param = new Float64Array(n);
  let mTerms = 0;
  let pTerms = 0;
  let mMax = 0;
  for (let k = 0; k < n; k++) {
    const m0 = init.momentum![k]!;
    const p0 = init.param![k]!;
    m[k] = b1 * m0 + (1 - b1) * u[k]!;
    param[k] = p0 - lr * (lrMult * m[k]! + wd * p0);
    mTerms = Math.max(mTerms, b1 * Math.abs(m0) + (1 - b1) * Math.abs(u[k]!));
    pTerms = Math.max(pTerms, lr * (lrMult * Math.abs(m[k]!) + wd * Math.abs(p0)));
    mMax = Math.max(mMax, Math.abs(m[k]!));
  }
  out.momentum = m;
  out.param = param;
  return { out, mTerms, pTerms, mMax };
}

function tolerances(sh: Shape, momentumType: DT, r: StepResult, hy: Hyper): { cpu: Record<string, Tolerance>; gpu: Record<string, Tolerance> } {
  const stats = sh.factored ? ['vr', 'vc'] : ['v'];
  const cpu: Record<string, Tolerance> = {
    momentum: { abs: 4 * R * r.mTerms, rel: 4 * R + (momentumType === 'bf16' ? 2 ** -8 : 0) },
    param: { abs: 5 * R * r.pTerms, rel: R + 1e-12 },
  };
  const gpu: Record<string, Tolerance> = {
    momentum: { abs: 20 * GPU_R, rel: 20 * GPU_R + (momentumType === 'bf16' ? 2 * 2 ** -8 : 0) },
    param: { abs: hy.lr * hy.lrMult * 20 * GPU_R * (r.mMax + 1) + 1e-30, rel: GPU_R },
  };
  for (const s of stats) {
    cpu[s] = { abs: 0, rel: R };
    gpu[s] = { abs: 1e-30, rel: 3e-5 };
  }
  return { cpu, gpu };
}

/** Which global statistics a sharded case passes (the values are drawn near the shard's own). */
interface ShardStats {
  rowSums?: boolean;
  colSums?: boolean;
  vrSum?: boolean;
}

interface CaseOptions {
  rows: number;
  cols: number;
  factored: boolean;
  totalRows?: number;
  totalCols?: number;
  stats?: ShardStats;
  gradType: DT;
  momentumType: DT;
  seed: number;
  step: number;
  hyper: Partial<Hyper>;
}

/** Initial state as adafactor.test.ts draws it: positive statistics, gradients over ten binary orders. */
function initialBuffers(o: CaseOptions): Record<string, CaseBuffer> {
  const n = o.rows * o.cols;
  const pos = (k: number, seed: number): Float64Array => spread(k, seed, -16, -6).map(Math.abs);
  const b: Record<string, CaseBuffer> = {
    param: { dtype: 'f32', size: n, role: 'inout', data: spread(n, o.seed, -4, 1) },
    grad: { dtype: o.gradType, size: n, role: 'in', data: spread(n, o.seed + 1, -10, 0) },
    momentum: { dtype: o.momentumType, size: n, role: 'inout', data: spread(n, o.seed + 2, -8, -2) },
  };
  if (o.factored) {
    b.vr = { dtype: 'f32', size: o.rows, role: 'inout', data: pos(o.rows, o.seed + 3) };
    b.vc = { dtype: 'f32', size: o.cols, role: 'inout', data: pos(o.cols, o.seed + 4) };
    // A shard's global statistics: the shard's own sums of s scaled up to the global dims, times a
    // random factor in [0.5, 2) (any positive values are valid inputs; these keep u near 1).
    const r = rng(o.seed + 5);
    const grad = roundTo(o.gradType, b.grad!.data!);
    const scale = Math.fround(o.hyper.gradScale ?? 1);
    const s = (i: number, j: number): number => (scale * grad[i * o.cols + j]!) ** 2;
    const jitter = (): number => 0.5 + 1.5 * r();
    if (o.stats?.rowSums) {
      const k = (o.totalCols ?? o.cols) / o.cols;
      b.rowSums = { dtype: 'f32', size: o.rows, role: 'in', data: Float64Array.from({ length: o.rows }, (_, i) => {
        let sum = 0;
        for (let j = 0; j < o.cols; j++) sum += s(i, j);
        return k * sum * jitter();
      }) };
    }
    if (o.stats?.colSums) {
      const k = (o.totalRows ?? o.rows) / o.rows;
      b.colSums = { dtype: 'f32', size: o.cols, role: 'in', data: Float64Array.from({ length: o.cols }, (_, j) => {
        let sum = 0;
        for (let i = 0; i < o.rows; i++) sum += s(i, j);
        return k * sum * jitter();
      }) };
    }
    if (o.stats?.vrSum) {
      const vr = b.vr.data!;
      let sum = 0;
      for (let i = 0; i < o.rows; i++) sum += vr[i]!;
      b.vrSum = { dtype: 'f32', size: 1, role: 'in', data: [((o.totalRows ?? o.rows) / o.rows) * (sum + 1e-5) * jitter()] };
    }
  } else {
    b.v = { dtype: 'f32', size: n, role: 'inout', data: pos(n, o.seed + 3) };
  }
  return b;
}

function seenBy(buffers: Record<string, CaseBuffer>): Record<string, Float64Array> {
  const seen: Record<string, Float64Array> = {};
  for (const [name, b] of Object.entries(buffers)) seen[name] = roundTo(b.dtype, b.data ?? []);
  return seen;
}

function specOf(o: Shape & { gradType: DT; momentumType: DT }, hy: Hyper): (b: Record<string, unknown>) => Record<string, unknown> {
  return (b) => ({
    rows: o.rows, cols: o.cols, factored: o.factored, gradType: o.gradType, momentumType: o.momentumType,
    param: b.param, grad: b.grad, momentum: b.momentum,
    ...(o.factored ? { vr: b.vr, vc: b.vc } : { v: b.v }),
    ...hy,
    ...(o.totalRows !== undefined ? { totalRows: o.totalRows } : {}),
    ...(o.totalCols !== undefined ? { totalCols: o.totalCols } : {}),
    ...Object.fromEntries((['rowSums', 'colSums', 'vrSum'] as const).filter((k) => b[k] !== undefined).map((k) => [k, b[k]])),
  });
}

function adafactorCase(o: CaseOptions): KernelCase {
  const hy = hyper(o.step, o.hyper);
  const buffers = initialBuffers(o);
  const tol = tolerances(o, o.momentumType, adafactorStep(o, seenBy(buffers), hy), hy);
  const flags = [
    `step ${o.step}`,
    hy.clipThreshold > 0 ? `clip ${hy.clipThreshold}` : 'no clip',
    hy.lrMult !== 1 ? `lrMult ${hy.lrMult}` : '',
    hy.weightDecay > 0 ? `wd ${hy.weightDecay}` : '',
    hy.gradScale !== 1 ? `gradScale ${hy.gradScale}` : '',
    o.totalRows !== undefined || o.totalCols !== undefined ? `shard of [${o.totalRows ?? o.rows}, ${o.totalCols ?? o.cols}]` : '',
    ...(['rowSums', 'colSums', 'vrSum'] as const).filter((k) => o.stats?.[k]).map((k) => `given ${k}`),
  ].filter(Boolean);
  return {
    name: `${o.factored ? 'factored' : 'unfactored'} [${o.rows}, ${o.cols}], ${o.gradType} grad, ${o.momentumType} momentum, ${flags.join(', ')}`,
    dtype: `${o.gradType} grad, ${o.momentumType} momentum`,
    layout: o.stats || o.totalRows !== undefined || o.totalCols !== undefined ? 'factored shard' : o.factored ? 'factored' : 'unfactored',
    buffers,
    spec: specOf(o, hy),
    reference: (initial) => adafactorStep(o, initial, hy).out,
    tolerance: tol.cpu,
    gpuTolerance: tol.gpu,
  };
}

/**
 * The known answer (adafactor.test.ts): with decay 0, a gradient a_i b_j gives vr_i = a_i^2 mean(b^2),
 * vc_j = b_j^2 mean(a^2), mean(vr) = mean(a^2) mean(b^2), so v_hat = g^2 and u = sign(g): then
 * m = 0.9 m0 + 0.1 sign(g) and param = param0 - lr m. Powers of two keep the statistics exact in f32;
 * eps = 2^-100 is far below their last bit. Checked with the general bounds, from a closed form
 * that shares nothing with the general reference.
 */
function rankOneCase(): KernelCase {
  const rows = 32, cols = 48, n = rows * cols;
  const a = Array.from({ length: rows }, (_, i) => (i % 3 === 0 ? -1 : 1) * 2 ** ((i % 5) - 2));
  const b = Array.from({ length: cols }, (_, j) => (j % 4 === 1 ? -1 : 1) * 2 ** ((j % 3) - 1));
  const grad = new Float64Array(n);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) grad[i * cols + j] = a[i]! * b[j]!;
  const shape: Shape = { rows, cols, factored: true };
  const hy = hyper(1, { lr: 0.5, eps: 2 ** -100 });
  const buffers: Record<string, CaseBuffer> = {
    param: { dtype: 'f32', size: n, role: 'inout', data: spread(n, 31, -2, 1) },
    grad: { dtype: 'f32', size: n, role: 'in', data: grad },
    momentum: { dtype: 'f32', size: n, role: 'inout', data: spread(n, 32, -8, -2) },
    vr: { dtype: 'f32', size: rows, role: 'inout', data: spread(rows, 33, -8, 3).map(Math.abs) },
    vc: { dtype: 'f32', size: cols, role: 'inout', data: spread(cols, 34, -8, 3).map(Math.abs) },
  };
  const meanSq = (x: number[]): number => x.reduce((s, y) => s + y * y, 0) / x.length;
  const closedForm = (initial: Record<string, ArrayLike<number>>): Record<string, Float64Array> => {
    const m = new Float64Array(n);
    const param = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      m[k] = 0.9 * initial.momentum![k]! + 0.1 * Math.sign(grad[k]!);
      param[k] = initial.param![k]! - 0.5 * m[k]!;
    }
    return {
      vr: Float64Array.from(a, (x) => x * x * meanSq(b)),
      vc: Float64Array.from(b, (x) => x * x * meanSq(a)),
      momentum: m,
      param,
    };
  };
  const tol = tolerances(shape, 'f32', adafactorStep(shape, seenBy(buffers), hy), hy);
  return {
    name: 'factored [32, 48], f32 grad, f32 momentum, rank-1 gradient: u = sign(g) (known answer)',
    dtype: 'f32 grad, f32 momentum',
    layout: 'factored',
    buffers,
    spec: specOf({ ...shape, gradType: 'f32', momentumType: 'f32' }, hy),
    reference: closedForm,
    tolerance: tol.cpu,
    gpuTolerance: tol.gpu,
  };
}

const cases: KernelCase[] = [];
const add = (rows: number, cols: number, factored: boolean, gradType: DT, momentumType: DT, step: number, h: Partial<Hyper>): void => {
  cases.push(adafactorCase({ rows, cols, factored, gradType, momentumType, seed: rows * 1009 + cols * 7 + cases.length * 101, step, hyper: h }));
};

// Factored (big_vision: both dims >= 32; the kernel takes the caller's choice, so also [3, 17]).
// Over 64 rows ([129, 40], [300, 257]) the row blocks run as several tasks on the thread pool.
add(32, 32, true, 'f32', 'bf16', 1, { lrMult: 0.5, weightDecay: 0.03 });
add(33, 129, true, 'f32', 'bf16', 4, { lrMult: 0.5, weightDecay: 0.03 });
add(129, 40, true, 'bf16', 'f32', 3, { gradScale: 0.4, lr: 3e-3, weightDecay: 3 });
add(300, 257, true, 'bf16', 'f32', 2, { gradScale: 0.4, lr: 3e-3, weightDecay: 3 });
add(300, 257, true, 'f32', 'bf16', 10, { lrMult: 0.5, weightDecay: 0.03 });
add(3, 17, true, 'bf16', 'bf16', 5, { lr: 0.03, lrMult: 0.5, weightDecay: 0.1, gradScale: 0.8 });
add(65, 31, true, 'f32', 'f32', 1000000, { lr: 1e-2, lrMult: 0.7, weightDecay: 0.1 });
// Update clipping on (0.3 clips: u has rms ~1) and effectively off (10 does not), factored.
add(64, 48, true, 'f32', 'f32', 5, { clipThreshold: 0.3, decay: 0.5 });
add(64, 48, true, 'f32', 'f32', 5, { clipThreshold: 10, decay: 0.5 });
add(129, 517, true, 'bf16', 'bf16', 5, { clipThreshold: 0.5, lr: 0.03, lrMult: 0.5, weightDecay: 0.1, gradScale: 0.8 });
// Unfactored: sizes 1, primes, skinny shapes; 20 x 3001 and 1 x 40000 are several 16384-element tasks.
add(1, 1, false, 'f32', 'bf16', 1, { weightDecay: 0.03 });
add(1, 17, false, 'bf16', 'f32', 2, { gradScale: 0.25, lrMult: 2 });
add(3, 5, false, 'f32', 'f32', 3, { weightDecay: 0.03, lrMult: 0.7 });
add(31, 129, false, 'f32', 'bf16', 3, { weightDecay: 0.03 });
add(129, 3, false, 'bf16', 'bf16', 7, { gradScale: 0.25, lrMult: 2 });
add(1, 40000, false, 'f32', 'f32', 20, { lr: 1e-2, weightDecay: 0.1, gradScale: 1.5 });
// Unfactored with clipping on and effectively off; over several tasks the rms sums partials.
add(7, 9, false, 'bf16', 'bf16', 2, { clipThreshold: 0.3, decay: 0.5 });
add(7, 9, false, 'bf16', 'bf16', 2, { clipThreshold: 10, decay: 0.5 });
add(20, 3001, false, 'bf16', 'bf16', 5, { clipThreshold: 0.5, weightDecay: 0.03, gradScale: 0.9 });
add(17, 1031, false, 'f32', 'bf16', 4, { clipThreshold: 0.4, lrMult: 0.5 });
// From test/gpu/optim-checks.cjs (its CUDA-vs-CPU steps moved here): rows wider than 512 (CUDA's
// block-per-row kernels) in the storage pairs the list above has only narrow; 1024 row blocks of
// the column sums (rows > 1024, cols <= 64); and an unfactored clipped update over more than one
// 2^16-element block of the rms partial sums.
add(33, 517, true, 'f32', 'bf16', 5, { clipThreshold: 0.5, lr: 0.03, lrMult: 0.5, weightDecay: 0.1, gradScale: 0.8 });
add(17, 600, true, 'bf16', 'f32', 5, { lr: 0.03, lrMult: 0.5, weightDecay: 0.1, gradScale: 0.8 });
add(9, 1031, true, 'f32', 'f32', 5, { clipThreshold: 0.5, lr: 0.03, lrMult: 0.5, weightDecay: 0.1, gradScale: 0.8 });
add(1100, 40, true, 'bf16', 'f32', 5, { clipThreshold: 0.5, lr: 0.03, lrMult: 0.5, weightDecay: 0.1, gradScale: 0.8 });
add(1, 100003, false, 'f32', 'bf16', 5, { clipThreshold: 0.5, lr: 0.03, lrMult: 0.5, weightDecay: 0.1, gradScale: 0.8 });
cases.push(rankOneCase());
// Shards of a sharded parameter (lib/kernels/adafactor.ts "Sharded"): a column shard (its rows are
// whole: the global row sums given, vr is the whole vr), a row shard (the global column sums and the
// sum of the updated vr given), both at once, and explicit totals equal to the shard's own dims
// (the unsharded step). test/train/adafactor-sharded.test.ts checks shards against the whole.
const shard = (rows: number, cols: number, gradType: DT, momentumType: DT, step: number, h: Partial<Hyper>, s: Pick<CaseOptions, 'totalRows' | 'totalCols' | 'stats'>): void => {
  cases.push(adafactorCase({ rows, cols, factored: true, gradType, momentumType, seed: rows * 1013 + cols * 11 + cases.length * 103, step, hyper: h, ...s }));
};
shard(40, 48, 'f32', 'bf16', 3, { lrMult: 0.5, weightDecay: 0.03 }, { totalCols: 96, stats: { rowSums: true } });
shard(129, 33, 'bf16', 'f32', 2, { gradScale: 0.4, lr: 3e-3 }, { totalRows: 516, stats: { colSums: true, vrSum: true } });
shard(33, 600, 'bf16', 'bf16', 5, { lr: 0.03, weightDecay: 0.1, gradScale: 0.8 }, { totalRows: 66, totalCols: 1800, stats: { rowSums: true, colSums: true, vrSum: true } });
shard(65, 40, 'f32', 'f32', 4, { lr: 1e-2 }, { totalRows: 65, totalCols: 40 });
shard(17, 1031, 'f32', 'f32', 7, { lr: 1e-2, weightDecay: 0.1 }, { totalRows: 1100, stats: { colSums: true, vrSum: true } });

const adafactor: KernelCases = { kernel: 'adafactor', cases };
export default adafactor;
