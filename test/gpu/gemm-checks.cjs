#!/usr/bin/env node
// GPU checks of the cuBLASLt GEMM (native/cuda/gemm.cu) that the kernel table (test/cases/gemm.ts,
// run on the GPU by dist/kernel-checks.cjs, covers every dtype, transpose, batch, stride and
// epilogue combination against the CPU) cannot say: the plan cache (the second call of a shape asks
// cuBLASLt's heuristic nothing, and keys on the bias type), a plan with operands at odd byte
// offsets (the table's buffers are whole, aligned allocations), and VIT22B_CUDA_TF32 (read once per
// process, so a child process). Each GEMM runs on a `cuda` device and on the `cpu` device on the
// same seeded random inputs, through the raw launch route (DeviceHandle.launch('gemm', spec)) or a
// plan. Plain JavaScript over dist/: `npm run build:ts && node test/gpu/gemm-checks.cjs`
// (test/gpu/cuda-device.test.ts runs it under `npm run test:gpu`). Prints { checks: [{ name, ok,
// detail }] }; exits 1 on any failure, and with a single failed check saying why when CUDA is
// unavailable. device.stats() of a dry run's cpu device has no heuristic counters: check 2 fails
// there by design.
//
// Tolerances, per output element, with scale = |alpha| sum_p |a_ip b_pj| + |beta c_ij| + |bias_j|
// (the magnitude of everything summed, in float64):
//   f32 C:   2 (k + 4) 2^-24 scale + 2^-20 |cpu|   (two f32 accumulations in different orders,
//            each within k ulps of scale, plus GELU's exp/erfc differing by a few ulps)
//   bf16 C:  the f32 bound + 2^-8 (|cpu| + scale)  (one bf16 rounding on each side; with a GELU
//            column range our kernel rounds bf16 C twice, about 2^-9 scale more)
//   cuBLASLt's own fused GELU (full range, tanh form): + 2^-10 scale, since its tanh may be the
//            hardware approximation; the worst difference is reported in the detail.
// bf16 inputs are exact in f32, so their products are too: the same bounds apply.
// Unwritten output is caught by poisoning: C is NaN (f32 NaN, bf16 0x7fc0) wherever beta = 0, and
// the padding columns of C (ldc > n) must come back bit for bit as they went in.
const { rng, check, checkAsync, settled, assert, finish, loadVit, requireCuda, openDevices } = require('./check-harness.cjs');

const { f32ToBf16Bits, bf16BitsToF32 } = loadVit('load dist/index.js', 'cannot load the package (run npm run build:ts first)');
requireCuda('CUDA available (every gemm check needs it)');

const BF16_NAN = 0x7fc0;
const storage = (type, n) => (type === 'f32' ? new Float32Array(n) : new Uint16Array(n));
const put = (arr, i, v) => {
  if (arr instanceof Float32Array) arr[i] = v;
  else arr[i] = f32ToBf16Bits(v);
};
const get = (arr, i) => (arr instanceof Float32Array ? arr[i] : bf16BitsToF32(arr[i]));
const bitsOf = (arr, i) => (arr instanceof Float32Array ? new Uint32Array(arr.buffer, arr.byteOffset, arr.length)[i] : arr[i]);

/**
 * A case: shapes as lib/kernels/gemm.ts GemmArgs. pad* widen the leading dimensions past the row length,
 * share* make A or B one matrix for every batch (stride 0), gelu = { form, begin, end } or null,
 * biasType the bias's dtype (undefined: C's, and the spec leaves the field out).
 */
function makeCase(o) {
  const c = {
    abType: 'f32', cType: 'f32', transA: false, transB: false, batch: 1, alpha: 1, beta: 0,
    padA: 0, padB: 0, padC: 0, shareA: false, shareB: false, bias: false, gelu: null, seed: 1, ...o,
  };
  const aRows = c.transA ? c.k : c.m, aCols = c.transA ? c.m : c.k;
  const bRows = c.transB ? c.n : c.k, bCols = c.transB ? c.k : c.n;
  c.lda = aCols + c.padA;
  c.ldb = bCols + c.padB;
  c.ldc = c.n + c.padC;
  // One spare row between batches, so a wrong stride reads different data.
  c.strideA = c.shareA ? 0 : (aRows + 1) * c.lda;
  c.strideB = c.shareB ? 0 : (bRows + 1) * c.ldb;
  c.strideC = (c.m + 1) * c.ldc;
  const r = rng(c.seed);
  const value = () => (0.1 + 0.9 * r()) * (r() < 0.5 ? -1 : 1);
  const fill = (type, n, poison) => {
    const arr = storage(type, Math.max(n, 1));
    for (let i = 0; i < arr.length; i++) {
      if (poison) arr[i] = type === 'f32' ? Number.NaN : BF16_NAN;
      else put(arr, i, value());
    }
    return arr;
  };
  const span = (stride, rows, ld) => (c.batch - 1) * stride + rows * ld;
  c.a = fill(c.abType, span(c.strideA, aRows, c.lda), false);
  c.b = fill(c.abType, span(c.strideB, bRows, c.ldb), false);
  c.c = fill(c.cType, span(c.strideC, c.m, c.ldc), c.beta === 0);
  if (c.bias) c.biasData = fill(c.biasType ?? c.cType, c.n, false);
  return c;
}

function specOf(c, bufs) {
  const spec = {
    abType: c.abType, cType: c.cType, transA: c.transA, transB: c.transB, m: c.m, n: c.n, k: c.k,
    batch: c.batch, alpha: c.alpha, beta: c.beta, lda: c.lda, ldb: c.ldb, ldc: c.ldc,
    strideA: c.strideA, strideB: c.strideB, strideC: c.strideC, a: bufs.a, b: bufs.b, c: bufs.c,
  };
  if (bufs.bias) spec.bias = bufs.bias;
  if (c.biasType) spec.biasType = c.biasType;
  if (c.gelu) Object.assign(spec, { geluForm: c.gelu.form, geluBegin: c.gelu.begin, geluEnd: c.gelu.end });
  return spec;
}

/** Runs the case on a device through DeviceHandle.launch; returns C's storage afterwards. */
function runOn(device, c) {
  const up = (arr) => {
    const buf = device.native.alloc(arr.byteLength);
    buf.upload(arr);
    return buf;
  };
  const bufs = { a: up(c.a), b: up(c.b), c: up(c.c), bias: c.biasData ? up(c.biasData) : undefined };
  try {
    device.native.launch('gemm', specOf(c, bufs));
    const out = storage(c.cType, c.c.length);
    bufs.c.download(out);
    return out;
  } finally {
    for (const b of Object.values(bufs)) b?.dispose();
  }
}

const elemA = (c, b, i, p) => get(c.a, b * c.strideA + (c.transA ? p * c.lda + i : i * c.lda + p));
const elemB = (c, b, p, j) => get(c.b, b * c.strideB + (c.transB ? j * c.ldb + p : p * c.ldb + j));

/** Compares the GPU's C with the CPU's; returns the worst error relative to its tolerance. */
function compare(c, cpu, gpu, label) {
  const fusedGelu = c.gelu && c.gelu.form === 'tanh' && c.gelu.begin === 0 && c.gelu.end === c.n;
  let worst = 0, worstAbs = 0;
  for (let b = 0; b < c.batch; b++) {
    for (let i = 0; i < c.m; i++) {
      const row = b * c.strideC + i * c.ldc;
      for (let j = 0; j < c.n; j++) {
        let sum = 0;
        for (let p = 0; p < c.k; p++) sum += Math.abs(elemA(c, b, i, p) * elemB(c, b, p, j));
        let scale = Math.abs(c.alpha) * sum;
        if (c.beta !== 0) scale += Math.abs(c.beta * get(c.c, row + j));
        if (c.biasData) scale += Math.abs(get(c.biasData, j));
        const want = get(cpu, row + j), got = get(gpu, row + j);
        assert(Number.isFinite(want), `${label}: the CPU result is not finite at b=${b} i=${i} j=${j}: ${want}`);
        assert(Number.isFinite(got), `${label}: GPU ${got} at b=${b} i=${i} j=${j} (CPU ${want}): unwritten or poisoned`);
        let tol = 2 * (c.k + 4) * 2 ** -24 * scale + 2 ** -20 * Math.abs(want) + 1e-30;
        if (c.cType === 'bf16') tol += 2 ** -8 * (Math.abs(want) + scale);
        if (fusedGelu) tol += 2 ** -10 * scale;
        const err = Math.abs(got - want);
        assert(err <= tol, `${label}: b=${b} i=${i} j=${j}: GPU ${got}, CPU ${want}, |diff| ${err.toExponential(3)} > tol ${tol.toExponential(3)} (scale ${scale.toExponential(3)})`);
        worst = Math.max(worst, err / tol);
        worstAbs = Math.max(worstAbs, err / (scale + 1e-30));
      }
      // Padding columns of C are never written.
      for (let j = c.n; j < c.ldc; j++) {
        assert(bitsOf(gpu, row + j) === bitsOf(c.c, row + j), `${label}: padding C[b=${b}, i=${i}, col ${j}] was written`);
      }
    }
    // Nor is the spare row between two batches of C.
    if (b + 1 < c.batch) {
      const spare = b * c.strideC + c.m * c.ldc;
      for (let j = 0; j < c.ldc; j++) {
        assert(bitsOf(gpu, spare + j) === bitsOf(c.c, spare + j), `${label}: the spare row after batch ${b} was written at col ${j}`);
      }
    }
  }
  return { worst, worstAbs };
}

function describe(c) {
  const parts = [`${c.abType}->${c.cType}`, `${c.m}x${c.n}x${c.k}`];
  if (c.batch > 1) parts.push(`batch ${c.batch}${c.shareA ? ' A shared' : ''}${c.shareB ? ' B shared' : ''}`);
  if (c.transA || c.transB) parts.push(`${c.transA ? 'T' : 'N'}${c.transB ? 'T' : 'N'}`);
  if (c.padA || c.padB || c.padC) parts.push(`ld +${c.padA}/+${c.padB}/+${c.padC}`);
  if (c.alpha !== 1 || c.beta !== 0) parts.push(`alpha ${c.alpha} beta ${c.beta}`);
  if (c.bias) parts.push(c.biasType ? `${c.biasType} bias` : 'bias');
  if (c.gelu) parts.push(`gelu ${c.gelu.form} [${c.gelu.begin}, ${c.gelu.end})`);
  return parts.join(', ');
}

const { cpu, gpu } = openDevices();

// Child mode (see check 4): one f32 GEMM, printed as { worstAbs } (|diff| / scale, worst element).
if (process.argv[2] === '--tf32-child') {
  const c = makeCase({ m: 96, n: 160, k: 512, seed: 61 });
  const want = runOn(cpu, c), got = runOn(gpu, c);
  let worstAbs = 0;
  for (let i = 0; i < c.m; i++) {
    for (let j = 0; j < c.n; j++) {
      let sum = 0;
      for (let p = 0; p < c.k; p++) sum += Math.abs(elemA(c, 0, i, p) * elemB(c, 0, p, j));
      worstAbs = Math.max(worstAbs, Math.abs(get(got, i * c.ldc + j) - get(want, i * c.ldc + j)) / sum);
    }
  }
  cpu.dispose();
  gpu.dispose();
  console.log(JSON.stringify({ worstAbs }));
  process.exit(0);
}

// 1. The plan cache keys on the bias type: the same shape with a bf16 and an f32 bias, in turns,
// each matches the CPU (a plan reused across bias types would read the bias wrongly).
check('the same shape with a bf16 bias, then an f32 bias, then bf16 again: each matches the CPU', () => {
  const base = { abType: 'bf16', cType: 'bf16', m: 29, n: 64, k: 48, bias: true, seed: 97 };
  let worst = 0;
  for (const biasType of [undefined, 'f32', undefined, 'f32']) {
    for (const gelu of [null, { form: 'tanh', begin: 0, end: 64 }]) {
      const c = makeCase({ ...base, biasType, gelu });
      worst = Math.max(worst, compare(c, runOn(cpu, c), runOn(gpu, c), describe(c)).worst);
    }
  }
  return `8 runs; worst |diff| = ${worst.toFixed(3)} of the tolerance`;
});

// 2. The plan cache: the second call of a shape asks the heuristic nothing.
check('the second call with the same shape does no heuristic query (device.stats())', () => {
  const c = makeCase({ abType: 'bf16', cType: 'f32', m: 19, n: 23, k: 29, bias: true, gelu: { form: 'tanh', begin: 3, end: 11 }, seed: 41 });
  const queries = () => gpu.stats().gemmHeuristicQueries;
  assert(typeof queries() === 'number', `device.stats() has no gemmHeuristicQueries: ${JSON.stringify(gpu.stats())}`);
  const q0 = queries();
  const first = runOn(gpu, c);
  const q1 = queries();
  const second = runOn(gpu, c);
  const q2 = queries();
  assert(q1 > q0, `the first call of a new shape made no heuristic query (${q0} -> ${q1})`);
  assert(q2 === q1, `the second call made ${q2 - q1} heuristic queries`);
  for (let i = 0; i < first.length; i++) assert(bitsOf(first, i) === bitsOf(second, i), `element ${i} differs between two identical calls`);
  return `first call ${q1 - q0} queries, second 0; ${gpu.stats().gemmCachedPlans} plans cached`;
});

// 3. A plan with operands at odd offsets (2-byte aligned bf16 A and B, 4-byte aligned C, a bias
// that is not 16-byte aligned, so it goes through our epilogue kernel): run twice, the same
// numbers as the CPU plan, and the second run asks the heuristic nothing.
checkAsync('plan with unaligned operands and bias: matches the CPU, second run does no heuristic query', async () => {
  const c = makeCase({ abType: 'bf16', cType: 'f32', m: 21, n: 45, k: 38, bias: true, beta: 1, gelu: { form: 'tanh', begin: 0, end: 45 }, seed: 51 });
  let cursor = 0;
  const place = (bytes, misalign) => {
    const offset = Math.ceil(cursor / 256) * 256 + misalign;
    cursor = offset + bytes;
    return { slot: 0, offset, bytes };
  };
  const views = { a: place(c.a.byteLength, 2), b: place(c.b.byteLength, 66), c: place(c.c.byteLength, 4), bias: place(c.biasData.byteLength, 4) };
  const arenaBytes = Math.ceil(cursor / 256) * 256;
  const plan = {
    version: 1, arenaBytes, slotBytes: [arenaBytes], events: 0, scalars: 0,
    streams: [[{ kernel: 'gemm', spec: specOf(c, views), note: 'unaligned gemm' }]],
    inputs: [views.a, views.b, views.c, views.bias], outputs: [views.c],
  };
  const results = [];
  let queries = '';
  for (const device of [cpu, gpu]) {
    const loaded = device.loadPlan(plan);
    const runs = [];
    try {
      for (let r = 0; r < 2; r++) {
        const before = device.kind === 'cuda' ? device.stats().gemmHeuristicQueries : 0;
        const [out] = await loaded.run([c.a, c.b, c.c, c.biasData]);
        if (device.kind === 'cuda') {
          const made = device.stats().gemmHeuristicQueries - before;
          queries += `run ${r + 1}: ${made} heuristic queries; `;
          assert(r === 0 || made === 0, `the second plan run made ${made} heuristic queries`);
        }
        runs.push(new Float32Array(out));
      }
    } finally {
      loaded.dispose();
    }
    results.push(runs);
  }
  const [[cpu0], [gpu0, gpu1]] = results;
  for (let i = 0; i < gpu0.length; i++) assert(Object.is(gpu0[i], gpu1[i]), `element ${i} differs between two runs`);
  const r = compare(c, cpu0, gpu0, 'unaligned plan');
  return `${queries}worst |diff| = ${r.worst.toFixed(3)} of the tolerance`;
});

// 4. VIT22B_CUDA_TF32=1 switches f32 GEMMs to TF32 (inputs rounded to 10 mantissa bits: errors
// of about 2^-11 of scale instead of 2^-24); without it they stay at f32 accuracy.
check('VIT22B_CUDA_TF32=1 lets f32 GEMMs use TF32; the default does not', () => {
  const { spawnSync } = require('node:child_process');
  const run = (tf32) => {
    const env = { ...process.env };
    if (tf32) env.VIT22B_CUDA_TF32 = '1';
    else delete env.VIT22B_CUDA_TF32;
    const r = spawnSync(process.execPath, [__filename, '--tf32-child'], { encoding: 'utf8', env });
    assert(r.status === 0, `child (tf32 ${tf32}) exited ${r.status}: ${r.stderr}`);
    return JSON.parse(r.stdout).worstAbs;
  };
  const plain = run(false), tf32 = run(true);
  assert(plain < 2 ** -16, `without TF32 the worst error is ${plain.toExponential(2)} of scale: TF32 (or worse) is in use`);
  assert(tf32 < 2 ** -8, `with TF32 the worst error is ${tf32.toExponential(2)} of scale: more than TF32 rounding explains`);
  return `worst |diff| / scale: f32 ${plain.toExponential(2)}, TF32 ${tf32.toExponential(2)}${tf32 > 4 * plain ? '' : ' (TF32 made no visible difference: the heuristic may have kept f32 kernels)'}`;
});

settled().then(() => {
  cpu.dispose();
  gpu.dispose();
  finish();
});
