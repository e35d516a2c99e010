// Child of test/comm/mpi-collectives.test.ts, one process of `mpirun -np 4` (a 2 x 2 mesh over MPI,
// one device per process), and of test/gpu/nccl-checks.sh with VIT22B_TEST_COMM=nccl (one GPU per process,
// started by `vit22b launch --exec`): every collective kernel on random f32 and bf16 inputs, in place and not,
// against a naive float64 reference computed here (an axis of one device: a copy) from every rank's inputs (each process draws
// every rank's inputs from the same seeds, so it knows its peers' without asking them).
// Writes $VIT22B_TEST_OUT/rank<r>.json per process: the checks it made and the worst error of each.
'use strict';
const vit = require(process.env.VIT22B_DIST);
const { mulberry32 } = require('../helpers/child-kit.cjs');
const { report } = require('./mpi-child-kit.cjs');

// bf16 from f32 by round-to-nearest-even, written again here (the reference must not use ours).
function bf16Bits(x) {
  const u = new Uint32Array(new Float32Array([x]).buffer)[0];
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}
function bf16Value(bits) {
  return new Float32Array(new Uint32Array([bits << 16]).buffer)[0];
}
function f32Round(x) {
  return Math.fround(x);
}

// VIT22B_TEST_MESH: 2x2 (axes of 2) or 1x4 / 4x1 (an axis of 4: sums of 4 terms in rank order).
const [dataSize, modelSize] = (process.env.VIT22B_TEST_MESH || '2x2').split('x').map(Number);
const shape = { data: dataSize, model: modelSize };
const comm = process.env.VIT22B_TEST_COMM || 'mpi';
const mesh = vit.createMesh(shape, comm === 'nccl' ? { comm, timeoutMs: 60000 } : { comm, timeoutMs: 20000, threadsPerDevice: 1 });
const rank = mesh.ranks[0];
const size = shape.data * shape.model;
const d = Math.floor(rank / shape.model), m = rank % shape.model;
const device = mesh.devices[0];
const groups = {
  model: Array.from({ length: shape.model }, (_, j) => d * shape.model + j),
  data: Array.from({ length: shape.data }, (_, j) => j * shape.model + m),
};
const axisRank = { model: m, data: d };

// Rank r's input of a check: count values, exact in the dtype.
function inputOf(check, r, count, dtype) {
  const rng = mulberry32(1000 * check + r + 1);
  const v = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const x = (rng() * 2 - 1) * 3;
    v[i] = dtype === 'bf16' ? bf16Value(bf16Bits(x)) : f32Round(x);
  }
  return v;
}
function upload(values, dtype) {
  const t = device.alloc(dtype, [values.length]);
  t.upload(dtype === 'bf16' ? Uint16Array.from(values, bf16Bits) : Float32Array.from(values));
  return t;
}
function download(t, dtype) {
  const a = t.download();
  return dtype === 'bf16' ? Float64Array.from(a, bf16Value) : Float64Array.from(a);
}

const results = [];
function record(name, got, want, tol) {
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  results.push({ name, worst, tol, n: want.length, ok: got.length === want.length && worst <= tol });
}

let check = 0;
for (const dtype of ['f32', 'bf16']) {
  for (const axis of ['model', 'data']) {
    const group = groups[axis];
    const n = group.length;
    // Sums of n terms below 3 in magnitude stay below 16 (partial sums too, in any order): each of
    // the n-1 f32 additions and the final rounding err by at most half an ulp at 8..16 (f32 2^-21;
    // bf16's final rounding 2^-5). NCCL may round each bf16 partial sum to bf16: n-1 roundings then.
    const tol = dtype === 'f32' ? n * 2 ** -21 : comm === 'nccl' ? n * 2 ** -5 : 2 ** -5 + n * 2 ** -21;
    const me = axisRank[axis];
    for (const inPlace of [false, true]) {
      // all_reduce (scale 0.5: a mean over 2)
      {
        const id = ++check, count = 37;
        const ins = group.map((r) => inputOf(id, r, count, dtype));
        const x = upload(ins[me], dtype);
        const y = inPlace ? x : device.alloc(dtype, [count]);
        mesh.launch('all_reduce', [{ axis, ranks: n, dtype, count, scale: 0.5, x: x.buffer, y: y.buffer }]);
        const want = Float64Array.from({ length: count }, (_, i) => 0.5 * ins.reduce((s, v) => s + v[i], 0));
        record(`all_reduce ${dtype} ${axis}${inPlace ? ' in place' : ''}`, download(y, dtype), want, tol);
        x.dispose();
        if (!inPlace) y.dispose();
      }
      if (inPlace) continue;
      // reduce_scatter: block `me` of the sum
      {
        const id = ++check, count = 19;
        const ins = group.map((r) => inputOf(id, r, count * n, dtype));
        const x = upload(ins[me], dtype);
        const y = device.alloc(dtype, [count]);
        mesh.launch('reduce_scatter', [{ axis, ranks: n, dtype, count, x: x.buffer, y: y.buffer }]);
        const want = Float64Array.from({ length: count }, (_, i) => ins.reduce((s, v) => s + v[me * count + i], 0));
        record(`reduce_scatter ${dtype} ${axis}`, download(y, dtype), want, tol);
        x.dispose();
        y.dispose();
      }
      // all_gather: exact
      {
        const id = ++check, count = 23;
        const ins = group.map((r) => inputOf(id, r, count, dtype));
        const x = upload(ins[me], dtype);
        const y = device.alloc(dtype, [count * n]);
        mesh.launch('all_gather', [{ axis, ranks: n, dtype, count, x: x.buffer, y: y.buffer }]);
        const want = new Float64Array(count * n);
        ins.forEach((v, j) => want.set(v, j * count));
        record(`all_gather ${dtype} ${axis}`, download(y, dtype), want, 0);
        x.dispose();
        y.dispose();
      }
      // collective_permute shift 1: from axis rank me-1: exact
      {
        const id = ++check, count = 29;
        const ins = group.map((r) => inputOf(id, r, count, dtype));
        const x = upload(ins[me], dtype);
        const y = device.alloc(dtype, [count]);
        mesh.launch('collective_permute', [{ axis, ranks: n, dtype, count, shift: 1, x: x.buffer, y: y.buffer }]);
        record(`collective_permute ${dtype} ${axis}`, download(y, dtype), ins[(me - 1 + n) % n], 0);
        x.dispose();
        y.dispose();
      }
    }
  }
}
// The host gather behind global reads: every rank's bytes, in rank order.
{
  const all = mesh.gatherBytes(Int32Array.from([rank, rank * 7 + 3, -rank]));
  const want = Array.from({ length: size }, (_, r) => [r, r * 7 + 3, -r]).flat();
  const got = all.flatMap((b) => Array.from(new Int32Array(b)));
  record('gatherBytes', Float64Array.from(got), Float64Array.from(want), 0);
}
report(JSON.stringify({ rank, results }));
mesh.dispose();
