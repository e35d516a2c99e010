// Runs the norm / GELU kernels on fixed seeded inputs in a fresh process, so a test can set
// VIT22B_NUM_THREADS (read when the thread pool starts) without touching the jest process. Loads the
// built package (dist/). argv[2]: 'layer_norm' | 'gelu' | 'layer_norm_layout' | 'split_norm'. stdout: JSON
// { name: base64 of a tensor } (gelu also returns its inputs and a case list, so the caller can
// check every ISA path; layer_norm_layout returns each output of a laid-out run with dresidual and
// of the same run dense, rows gathered, as `<case>-<name>` and `<case>-dense-<name>`).
'use strict';
const path = require('node:path');
const lib = require(path.join(__dirname, '..', '..', 'dist', 'index.js'));

/** n values uniform in offset + [-span/2, span/2), never exactly zero. */
function values(seed, n, offset, span = 4) {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = offset + (s / 4294967296 - 0.5) * span || 0.5;
  }
  return out;
}

/** First element of row r under layout l (lib/kernels/records.ts RowLayout; undefined: dense). */
function rowStart(l, dim, r) {
  return l ? Math.floor(r / l.groupRows) * l.groupStride + (r % l.groupRows) * dim : r * dim;
}

/** Dense rows (typed array) placed in a buffer laid out by l, with `fill` between the rows. */
function scatter(dense, l, rows, dim, fill) {
  const n = l ? (rows / l.groupRows - 1) * l.groupStride + l.groupRows * dim + 5 : rows * dim;
  const out = new dense.constructor(n).fill(fill);
  for (let r = 0; r < rows; r++) out.set(dense.subarray(r * dim, (r + 1) * dim), rowStart(l, dim, r));
  return out;
}

function gather(laid, l, rows, dim) {
  const out = new laid.constructor(rows * dim);
  for (let r = 0; r < rows; r++) out.set(laid.subarray(rowStart(l, dim, r), rowStart(l, dim, r) + dim), r * dim);
  return out;
}

// Laid-out forward and backward (dresidual added to dx in place) and the same dense: large enough
// for every thread and more than the 64 gradient blocks.
function layoutCases(device, tensor, outputs) {
  const cases = [
    ['f32', 2 * 700 * 6, 64, true, { groupRows: 6, groupStride: 3 * 384 + 1536 }, { groupRows: 3, groupStride: 3 * 64 + 5 }],
    ['bf16', 3 * 343, 129, false, { groupRows: 3, groupStride: 3 * 129 + 11 }, { groupRows: 1, groupStride: 130 }],
  ];
  cases.forEach(([dtype, rows, dim, center, xL, oL], i) => {
    const n = rows * dim;
    const toStorage = (f) => (dtype === 'f32' ? f : lib.toBf16(f));
    const nan = dtype === 'f32' ? Number.NaN : 0x7fc0;
    const x = toStorage(values(rows + 1, n, 1));
    const dy = toStorage(values(rows + 2, n, 0));
    const dres = toStorage(values(rows + 3, n, 0));
    const scale = tensor('f32', [dim], values(dim, dim, 1));
    for (const laid of [true, false]) {
      const L = (l) => (laid ? l : undefined);
      const flat = (data) => tensor(dtype, [data.length], data);
      const xT = flat(scatter(x, L(xL), rows, dim, nan));
      const yT = flat(scatter(new x.constructor(n), L(oL), rows, dim, nan));
      const mean = tensor('f32', [rows]);
      const rstd = tensor('f32', [rows]);
      const lay = (pairs) => Object.fromEntries(pairs.filter(([, l]) => l));
      device.native.launch('layer_norm_fwd', {
        dtype, paramType: 'f32', rows, dim, eps: 1e-5, center, x: xT.buffer, scale: scale.buffer, y: yT.buffer,
        mean: mean.buffer, rstd: rstd.buffer, ...lay([['xLayout', L(xL)], ['yLayout', L(oL)]]),
      });
      const dyT = flat(scatter(dy, L(oL), rows, dim, nan));
      const dxT = flat(scatter(dres, L(xL), rows, dim, nan));
      const dscale = tensor('f32', [dim]);
      device.native.launch('layer_norm_bwd', {
        dtype, paramType: 'f32', rows, dim, center, x: xT.buffer, scale: scale.buffer, mean: mean.buffer, rstd: rstd.buffer,
        dy: dyT.buffer, dx: dxT.buffer, dresidual: dxT.buffer, dscale: dscale.buffer,
        ...lay([['xLayout', L(xL)], ['dyLayout', L(oL)], ['dxLayout', L(xL)], ['dresidualLayout', L(xL)]]),
      });
      const put = (name, raw) => {
        outputs[`${i}-${laid ? '' : 'dense-'}${name}`] = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64');
      };
      put('y', gather(yT.download(), L(oL), rows, dim));
      put('dx', gather(dxT.download(), L(xL), rows, dim));
      for (const [name, t] of Object.entries({ mean, rstd, dscale })) put(name, t.download());
    }
  });
  outputs.cases = cases.length;
}

function main() {
  const device = lib.openDevice({ device: 'cpu' });
  const outputs = {};
  const keep = (name, t) => {
    const raw = t.download();
    outputs[name] = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64');
  };
  const tensors = [];
  const tensor = (dtype, shape, data) => {
    const t = data ? device.tensor(dtype, shape, data) : device.alloc(dtype, shape);
    tensors.push(t);
    return t;
  };
  if (process.argv[2] === 'split_norm') {
    // row_moments, norm_apply and their backwards on rows wide enough for every thread (> 64K
    // elements: the parallel path), f32 and bf16, LayerNorm with bias and RMSNorm.
    [['f32', 400, 260, true], ['bf16', 333, 257, false]].forEach(([dtype, rows, dim, center], i) => {
      const n = rows * dim;
      const total = 4 * dim;
      const x = tensor(dtype, [rows, dim], values(rows, n, 1));
      const dy = tensor(dtype, [rows, dim], values(rows + 7, n, 0));
      const scale = tensor('f32', [dim], values(dim, dim, 1));
      const bias = tensor('f32', [dim], values(dim + 1, dim, 0));
      const stats = tensor('f32', [rows, 2]);
      const y = tensor(dtype, [rows, dim]);
      const dx = tensor(dtype, [rows, dim]);
      const dxm = tensor(dtype, [rows, dim]);
      const dstats = tensor('f32', [rows, 2]);
      const dscale = tensor('f32', [dim]);
      const dbias = tensor('f32', [dim]);
      device.native.launch('row_moments', { dtype, rows, dim, x: x.buffer, stats: stats.buffer });
      // The slice's moments stand in for the global ones, times the slices (4 like slices).
      const global = tensor('f32', [rows, 2], stats.download().map((v) => 4 * v));
      const common = { dtype, paramType: 'f32', rows, dim, total, eps: 1e-5, center };
      device.native.launch('norm_apply', { ...common, x: x.buffer, stats: global.buffer, scale: scale.buffer, ...(center ? { bias: bias.buffer } : {}), y: y.buffer });
      device.native.launch('norm_apply_bwd', {
        ...common, x: x.buffer, stats: global.buffer, scale: scale.buffer, dy: dy.buffer, dx: dx.buffer, dstats: dstats.buffer,
        dscale: dscale.buffer, ...(center ? { dbias: dbias.buffer } : {}),
      });
      device.native.launch('row_moments_bwd', { dtype, rows, dim, x: x.buffer, dstats: dstats.buffer, dx: dxm.buffer });
      for (const [name, t] of Object.entries({ stats, y, dx, dstats, dscale, dxm, ...(center ? { dbias } : {}) })) keep(`${i}-${name}`, t);
    });
    outputs.cases = 2;
  } else if (process.argv[2] === 'layer_norm_layout') {
    layoutCases(device, tensor, outputs);
  } else if (process.argv[2] === 'layer_norm') {
    // Rows beyond the 64 gradient blocks and enough elements to use every thread; inputs are
    // returned too, so the caller can check each ISA path against its reference.
    const cases = [['f32', 1000, 384, true, true], ['bf16', 777, 129, false, false], ['f32', 20003, 3, true, true], ['bf16', 200, 200, true, true]];
    const list = [];
    cases.forEach(([dtype, rows, dim, center, withBias], i) => {
      const n = rows * dim;
      const x = tensor(dtype, [rows, dim], values(rows, n, 1));
      const scale = tensor('f32', [dim], values(dim, dim, 1));
      const bias = withBias ? tensor('f32', [dim], values(dim + 1, dim, 0)) : undefined;
      const dy = tensor(dtype, [rows, dim], values(rows + 7, n, 0));
      const y = tensor(dtype, [rows, dim]);
      const mean = tensor('f32', [rows]);
      const rstd = tensor('f32', [rows]);
      const dx = tensor(dtype, [rows, dim]);
      const dscale = tensor('f32', [dim]);
      const dbias = withBias ? tensor('f32', [dim]) : undefined;
      lib.layerNorm(device, x, scale, y, { center, bias, mean, rstd, eps: 1e-5 });
      lib.layerNormBackward(device, { x, scale, dy, mean, rstd }, { dx, dscale, dbias }, { center });
      const all = { x, scale, bias, dy, y, mean, rstd, dx, dscale, dbias };
      for (const [name, t] of Object.entries(all)) if (t) keep(`${i}-${name}`, t);
      list.push({ dtype, rows, dim, center, bias: withBias, eps: 1e-5 });
    });
    outputs.cases = list;
  } else {
    // Both tails of GELU (|x| up to 12), odd widths, full range and column ranges; the last two
    // with a bias (f32, bf16) added inside the range (the *Bias spans of every ISA path).
    const cases = [
      ['f32', 'tanh', [301, 257], undefined],
      ['bf16', 'tanh', [129, 515], [100, 400]],
      ['f32', 'tanh', [33, 70], [5, 61]],
      ['bf16', 'erf', [129, 515], [100, 400]],
      ['f32', 'tanh', [77, 301], [0, 301], 'bf16'],
      ['bf16', 'tanh', [129, 515], [100, 400], 'f32'],
    ];
    const list = [];
    cases.forEach(([dtype, form, shape, columns, biasType], i) => {
      const n = shape[0] * shape[1];
      const x = tensor(dtype, shape, values(n + i, n, 0, 24));
      const dy = tensor(dtype, shape, values(n + i + 1, n, 0));
      const y = tensor(dtype, shape);
      const dx = tensor(dtype, shape);
      const width = columns ? columns[1] - columns[0] : shape[1];
      const bias = biasType ? tensor(biasType, [width], values(width + i, width, 0)) : undefined;
      lib.gelu(device, x, y, { form, columns, bias });
      lib.geluBackward(device, x, dy, dx, { form, columns, bias });
      for (const [name, t] of Object.entries({ x, dy, y, dx, bias })) if (t) keep(`${i}-${name}`, t);
      list.push({ dtype, form, shape, ...(columns ? { columns } : {}), ...(biasType ? { biasType } : {}) });
    });
    outputs.cases = list;
  }
  for (const t of tensors) t.dispose();
  device.dispose();
  process.stdout.write(JSON.stringify(outputs));
}

main();
