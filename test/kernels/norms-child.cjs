// Runs the norm / GELU kernels on fixed seeded inputs in a fresh process, so a test can set
// VIT22B_NUM_THREADS (read when the thread pool starts) without touching the jest process. Loads the
// built package (dist/). argv[2]: 'layer_norm' | 'gelu'. stdout: JSON { name: base64 of a tensor }
// (gelu also returns its inputs and a case list, so the caller can check every ISA path).
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
  if (process.argv[2] === 'layer_norm') {
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
