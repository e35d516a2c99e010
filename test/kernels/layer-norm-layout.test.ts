// layer_norm_fwd / layer_norm_bwd with row layouts (lib/kernels/records.ts RowLayout: xLayout, yLayout,
// dyLayout, dxLayout, dresidualLayout) and the residual gradient (dresidual, added to dx), through
// raw `device.native.launch` specs and the layerNormBackward wrapper.
//
// The float64 comparisons of laid-out calls (x, y, dy, dx laid out; a separate dresidual; dx ==
// dresidual in place; only x laid out; an explicit { groupRows: 0 }), with NaN in the input gaps and
// poison in the output gaps, are cases of test/cases/layer_norm_fwd.ts and layer_norm_bwd.ts. What
// the table cannot say, checked here on seeded random inputs (never zero), f32 and bf16, center
// true / false:
//   - a laid-out call gives bitwise the dense call's results on the gathered rows (y, mean, rstd,
//     dx, dscale, dbias): layouts only move where rows are read and written; elements of the output
//     buffers outside the rows keep their poison bits;
//   - dx == dresidual (in place, same layout) equals the separate-buffer call bitwise;
//   - layerNormBackward's dresidual option, separate and in place, against the float64 reference;
//   - typed errors for bad layouts, short buffers and forbidden aliases;
//   - in a child process (norms-child.cjs layer_norm_layout: large laid-out cases, dx == dresidual):
//     laid out == dense bitwise on every ISA path, and the same bits for 1, 3 and the default
//     thread count.
import { layerNormBackward, openDevice, Vit22bError, type Device, type DeviceTensor } from '../../lib';
import { thrownBy } from '../helpers/errors';
import { launchUntyped } from '../helpers/launch-untyped';
import { layerNormBackwardRef } from '../helpers/norm-reference';
import { mulberry32, type Rng } from '../helpers/prng';
import { decodeStorage, nonZeroValues, runNormsChild, upload, valuesOf, violation, type Storage } from './norm-data';
import { decodeBf16, referenceBf16Bits } from '../helpers/float-reference';

const U = 2 ** -23;

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => {
  expect(device.stats()).toMatchObject({ liveBuffers: 0, reclaimedByGc: 0 });
  device.dispose();
});

interface Layout {
  groupRows: number;
  groupStride: number;
}
type Bits = Float32Array | Uint16Array;

/** First element of row r (lib/kernels/records.ts RowLayout). */
function rowStart(l: Layout | undefined, dim: number, r: number): number {
  if (!l || l.groupRows === 0) return r * dim;
  return Math.floor(r / l.groupRows) * l.groupStride + (r % l.groupRows) * dim;
}

/** Elements a [rows, dim] operand spans under l. */
function extent(l: Layout | undefined, rows: number, dim: number): number {
  if (!l || l.groupRows === 0) return rows * dim;
  return rows === 0 ? 0 : (rows / l.groupRows - 1) * l.groupStride + l.groupRows * dim;
}

const POISON_F32 = 0x7fc00000;
const POISON_BF16 = 0x7fc0;

/** n elements of NaN (f32 0x7fc00000, bf16 0x7fc0). */
function poison(dtype: Storage, n: number): Bits {
  if (dtype === 'f32') return new Float32Array(new Uint32Array(n).fill(POISON_F32).buffer);
  return new Uint16Array(n).fill(POISON_BF16);
}

/** Storage bits of values already representable in `dtype`. */
function encode(dtype: Storage, values: ArrayLike<number>): Bits {
  return dtype === 'f32' ? Float32Array.from(values) : Uint16Array.from(values, (v) => referenceBf16Bits(v)!);
}

/** Dense rows placed in a NaN-filled buffer of the layout's extent plus `pad` elements. */
function scatter(dtype: Storage, dense: Bits, l: Layout | undefined, rows: number, dim: number, pad: number): Bits {
  const out = poison(dtype, extent(l, rows, dim) + pad);
  for (let r = 0; r < rows; r++) out.set(dense.subarray(r * dim, (r + 1) * dim), rowStart(l, dim, r));
  return out;
}

/** The rows of a laid-out buffer, dense. */
function gather(bits: Bits, l: Layout | undefined, rows: number, dim: number): Bits {
  const out = bits instanceof Float32Array ? new Float32Array(rows * dim) : new Uint16Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const s = rowStart(l, dim, r);
    out.set(bits.subarray(s, s + dim), r * dim);
  }
  return out;
}

/** Raw bits as integers, so that NaNs compare bitwise. */
function intBits(b: Bits): Uint32Array | Uint16Array {
  return b instanceof Float32Array ? new Uint32Array(b.buffer, b.byteOffset, b.length) : b;
}

/** Index of the first element outside the rows that lost its poison, or -1. */
function touchedGap(bits: Bits, l: Layout | undefined, rows: number, dim: number): number {
  const inRow = new Uint8Array(bits.length);
  for (let r = 0; r < rows; r++) inRow.fill(1, rowStart(l, dim, r), rowStart(l, dim, r) + dim);
  const ints = intBits(bits);
  const p = bits instanceof Float32Array ? POISON_F32 : POISON_BF16;
  for (let i = 0; i < bits.length; i++) if (!inRow[i] && ints[i] !== p) return i;
  return -1;
}

function sameBits(a: Bits, b: Bits): boolean {
  const x = intBits(a), y = intBits(b);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

function download(t: DeviceTensor): Bits {
  return t.download() as Bits;
}

interface Case {
  dtype: Storage;
  paramType: Storage;
  rows: number;
  dim: number;
  center: boolean;
  bias: boolean;
  /** none; a separate dresidual buffer; or dresidual == dx (in place). */
  residual: 'none' | 'separate' | 'inplace';
  xLayout?: Layout;
  yLayout?: Layout;
  dyLayout?: Layout;
  dxLayout?: Layout;
  dresidualLayout?: Layout;
  seed: number;
}

interface Outputs {
  y: Bits;
  mean: Float32Array;
  rstd: Float32Array;
  dx: Bits;
  dscale: Float32Array;
  dbias?: Float32Array;
}

interface Inputs {
  x: Bits;
  scale: Bits;
  bias?: Bits;
  dy: Bits;
  dres?: Bits;
}

function makeInputs(c: Case): Inputs {
  const rng: Rng = mulberry32(c.seed);
  const n = c.rows * c.dim;
  const x = nonZeroValues(rng, n, 0.05, 2);
  for (let r = 0; r < c.rows; r++) {
    const offset = (rng() - 0.5) * 16; // rows around an offset, so that centering matters
    for (let j = 0; j < c.dim; j++) x[r * c.dim + j] = x[r * c.dim + j]! + offset;
  }
  const stored = (dtype: Storage, v: Float64Array): Bits => encode(dtype, dtype === 'f32' ? Float32Array.from(v) : Float64Array.from(v, (e) => decodeBf16(referenceBf16Bits(Math.fround(e))!)));
  return {
    x: stored(c.dtype, x),
    scale: stored(c.paramType, nonZeroValues(rng, c.dim, 0.5, 2)),
    ...(c.bias ? { bias: stored(c.paramType, nonZeroValues(rng, c.dim, 0.1, 1)) } : {}),
    dy: stored(c.dtype, nonZeroValues(rng, n, 0.1, 1)),
    ...(c.residual !== 'none' ? { dres: stored(c.dtype, nonZeroValues(rng, n, 0.1, 3)) } : {}),
  };
}

const PAD = 11; // elements after each laid-out operand's extent, which must stay poisoned

/**
 * Forward then backward (from the forward's own mean / rstd) with the case's layouts, every
 * [rows, dim] operand in its own poisoned buffer; returns the outputs gathered dense, after checking
 * that no element outside the rows was written.
 */
function run(c: Case, inp: Inputs, layouts: boolean): { out: Outputs; gapErrors: string[] } {
  const { rows, dim, dtype } = c;
  const L = (l: Layout | undefined) => (layouts ? l : undefined);
  const tensors: DeviceTensor[] = [];
  const tensor = (dt: Storage | 'f32', data: Bits): DeviceTensor => {
    const t = device.tensor(dt, [data.length], data);
    tensors.push(t);
    return t;
  };
  try {
    const xL = L(c.xLayout), yL = L(c.yLayout), dyL = L(c.dyLayout), dxL = L(c.dxLayout);
    const drL = c.residual === 'inplace' ? dxL : L(c.dresidualLayout);
    const x = tensor(dtype, scatter(dtype, inp.x, xL, rows, dim, PAD));
    const scale = tensor(c.paramType, inp.scale);
    const bias = inp.bias ? tensor(c.paramType, inp.bias) : undefined;
    const y = tensor(dtype, poison(dtype, extent(yL, rows, dim) + PAD));
    const mean = tensor('f32', poison('f32', rows) as Float32Array);
    const rstd = tensor('f32', poison('f32', rows) as Float32Array);
    device.native.launch('layer_norm_fwd', {
      dtype, paramType: c.paramType, rows, dim, eps: 1e-5, center: c.center,
      x: x.buffer, scale: scale.buffer, y: y.buffer, mean: mean.buffer, rstd: rstd.buffer,
      ...(bias ? { bias: bias.buffer } : {}),
      ...(xL ? { xLayout: xL } : {}),
      ...(yL ? { yLayout: yL } : {}),
    });
    const dy = tensor(dtype, scatter(dtype, inp.dy, dyL, rows, dim, PAD));
    let dx: DeviceTensor;
    let dres: DeviceTensor | undefined;
    if (c.residual === 'inplace') {
      dx = tensor(dtype, scatter(dtype, inp.dres!, dxL, rows, dim, PAD));
      dres = dx;
    } else {
      dx = tensor(dtype, poison(dtype, extent(dxL, rows, dim) + PAD));
      if (c.residual === 'separate') dres = tensor(dtype, scatter(dtype, inp.dres!, drL, rows, dim, PAD));
    }
    const dscale = tensor('f32', poison('f32', dim) as Float32Array);
    const dbias = c.bias ? tensor('f32', poison('f32', dim) as Float32Array) : undefined;
    device.native.launch('layer_norm_bwd', {
      dtype, paramType: c.paramType, rows, dim, center: c.center,
      x: x.buffer, scale: scale.buffer, rstd: rstd.buffer, dy: dy.buffer, dx: dx.buffer, dscale: dscale.buffer,
      ...(c.center ? { mean: mean.buffer } : {}),
      ...(dbias ? { dbias: dbias.buffer } : {}),
      ...(dres ? { dresidual: dres.buffer } : {}),
      ...(xL ? { xLayout: xL } : {}),
      ...(dyL ? { dyLayout: dyL } : {}),
      ...(dxL ? { dxLayout: dxL } : {}),
      ...(dres && drL ? { dresidualLayout: drL } : {}),
    });
    const yBits = download(y), dxBits = download(dx);
    const gapErrors: string[] = [];
    const gy = touchedGap(yBits, yL, rows, dim);
    if (gy >= 0) gapErrors.push(`y[${gy}] outside the rows was written`);
    const gdx = touchedGap(dxBits, dxL, rows, dim);
    if (gdx >= 0) gapErrors.push(`dx[${gdx}] outside the rows was written`);
    return {
      out: {
        y: gather(yBits, yL, rows, dim), mean: download(mean) as Float32Array, rstd: download(rstd) as Float32Array,
        dx: gather(dxBits, dxL, rows, dim), dscale: download(dscale) as Float32Array,
        ...(dbias ? { dbias: download(dbias) as Float32Array } : {}),
      },
      gapErrors,
    };
  } finally {
    for (const t of new Set(tensors)) t.dispose();
  }
}

/** Runs the case dense and laid out; the gaps and the two calls compared; the violations, labelled. */
function checkCase(c: Case): string[] {
  const inp = makeInputs(c);
  const dense = run(c, inp, false);
  const laid = run(c, inp, true);
  const errors = [...dense.gapErrors, ...laid.gapErrors];
  for (const k of ['y', 'mean', 'rstd', 'dx', 'dscale', 'dbias'] as const) {
    const a = dense.out[k], b = laid.out[k];
    if ((a === undefined) !== (b === undefined) || (a && b && !sameBits(a, b))) errors.push(`${k}: the laid-out call differs from the dense call`);
  }
  return errors.map((e) => `${JSON.stringify(c)}: ${e}`);
}

// The QK-norm shape of the brief (B*T*H = 2*5*3 rows of Dh = 8, groups of H = 3 rows 3*8 + 13
// apart), odd sizes, one row per group, a gapless grouped layout, and one large enough for every
// thread and more than the 64 gradient blocks.
const SIZES: { rows: number; dim: number; x: Layout; other: Layout }[] = [
  { rows: 30, dim: 8, x: { groupRows: 3, groupStride: 3 * 8 + 13 }, other: { groupRows: 5, groupStride: 5 * 8 + 3 } },
  { rows: 129, dim: 17, x: { groupRows: 43, groupStride: 43 * 17 + 1 }, other: { groupRows: 3, groupStride: 3 * 17 + 30 } },
  { rows: 17, dim: 1, x: { groupRows: 1, groupStride: 3 }, other: { groupRows: 17, groupStride: 17 } },
  { rows: 9, dim: 129, x: { groupRows: 3, groupStride: 3 * 129 }, other: { groupRows: 1, groupStride: 129 + 7 } },
  { rows: 3, dim: 3, x: { groupRows: 3, groupStride: 9 }, other: { groupRows: 1, groupStride: 4 } },
  { rows: 1026, dim: 33, x: { groupRows: 3, groupStride: 3 * 33 + 13 }, other: { groupRows: 6, groupStride: 6 * 33 + 1 } },
];

describe('row layouts equal the dense kernel bitwise on the gathered rows', () => {
  const variants = [
    { dtype: 'f32' as const, paramType: 'f32' as const, center: true, bias: true },
    { dtype: 'f32' as const, paramType: 'f32' as const, center: false, bias: false },
    { dtype: 'bf16' as const, paramType: 'f32' as const, center: false, bias: false },
    { dtype: 'bf16' as const, paramType: 'bf16' as const, center: true, bias: true },
  ];
  test.each(variants)('$dtype/$paramType center=$center bias=$bias: x, y, dy, dx laid out, no dresidual', (v) => {
    const errors = SIZES.flatMap((s, i) => checkCase({
      ...v, rows: s.rows, dim: s.dim, residual: 'none',
      xLayout: s.x, yLayout: s.other, dyLayout: s.other, dxLayout: s.x, seed: 10 + i,
    }));
    expect(errors).toEqual([]);
  });

  test.each(variants)('$dtype/$paramType center=$center bias=$bias: with a separate dresidual', (v) => {
    const errors = SIZES.flatMap((s, i) => checkCase({
      ...v, rows: s.rows, dim: s.dim, residual: 'separate',
      xLayout: s.x, yLayout: s.x, dyLayout: s.x, dxLayout: s.other, dresidualLayout: s.x, seed: 20 + i,
    }));
    expect(errors).toEqual([]);
  });

  test.each(variants)('$dtype/$paramType center=$center bias=$bias: dx == dresidual in place', (v) => {
    const errors = SIZES.flatMap((s, i) => checkCase({
      ...v, rows: s.rows, dim: s.dim, residual: 'inplace',
      xLayout: s.other, dyLayout: s.x, dxLayout: s.x, seed: 30 + i,
    }));
    expect(errors).toEqual([]);
  });

  test('dense operands: only x laid out, and an explicit { groupRows: 0 } (dense, stride ignored)', () => {
    const errors = [
      ...checkCase({ dtype: 'f32', paramType: 'f32', rows: 30, dim: 8, center: false, bias: false, residual: 'separate', xLayout: SIZES[0]!.x, seed: 40 }),
      ...checkCase({ dtype: 'bf16', paramType: 'f32', rows: 30, dim: 8, center: true, bias: false, residual: 'none', xLayout: { groupRows: 0, groupStride: 999 }, dxLayout: { groupRows: 0, groupStride: 0 }, seed: 41 }),
    ];
    expect(errors).toEqual([]);
  });

  test('in place equals a separate dresidual bitwise; without dresidual, dx is the residual-free gradient', () => {
    const base: Case = { dtype: 'f32', paramType: 'f32', rows: 30, dim: 8, center: true, bias: false, residual: 'separate', xLayout: SIZES[0]!.x, dxLayout: SIZES[0]!.other, dresidualLayout: SIZES[0]!.other, seed: 50 };
    const inp = makeInputs(base);
    const separate = run(base, inp, true).out;
    const inPlace = run({ ...base, residual: 'inplace' }, inp, true).out;
    const none = run({ ...base, residual: 'none' }, inp, true).out;
    expect(sameBits(separate.dx, inPlace.dx)).toBe(true);
    expect(sameBits(separate.dscale, none.dscale)).toBe(true);
    // f32: dx = fl(dres + g) with g the residual-free f32 gradient (at most one FMA's difference).
    const d = inp.dres as Float32Array;
    for (let i = 0; i < d.length; i++) {
      const want = Math.fround(d[i]! + none.dx[i]!);
      expect(Math.abs(separate.dx[i]! - want)).toBeLessThanOrEqual(2 * U * Math.abs(want) + 4 * U * Math.abs(none.dx[i]!));
    }
  });
});

describe('layerNormBackward with dresidual', () => {
  test('separate and in place, f32 and bf16, against the reference', () => {
    for (const dtype of ['f32', 'bf16'] as const) {
      const rows = 12, dim = 17;
      const rng = mulberry32(dtype === 'f32' ? 60 : 61);
      const x = upload(device, dtype, [4, 3, dim], nonZeroValues(rng, rows * dim, 0.1, 2));
      const scale = upload(device, 'f32', [dim], nonZeroValues(rng, dim, 0.5, 2));
      const dy = upload(device, dtype, [4, 3, dim], nonZeroValues(rng, rows * dim, 0.1, 1));
      const dres = upload(device, dtype, [4, 3, dim], nonZeroValues(rng, rows * dim, 0.1, 3));
      const acc = upload(device, dtype, [4, 3, dim], dres.v);
      const rstd = device.alloc('f32', [4, 3]);
      const y = device.alloc(dtype, [4, 3, dim]);
      const dx = device.alloc(dtype, [4, 3, dim]);
      const dscale = device.alloc('f32', [dim]);
      try {
        device.native.launch('layer_norm_fwd', { dtype, paramType: 'f32', rows, dim, eps: 1e-6, center: false, x: x.t.buffer, scale: scale.t.buffer, y: y.buffer, rstd: rstd.buffer });
        layerNormBackward(device, { x: x.t, scale: scale.t, dy: dy.t, rstd, dresidual: dres.t }, { dx, dscale }, { center: false });
        layerNormBackward(device, { x: x.t, scale: scale.t, dy: dy.t, rstd, dresidual: acc.t }, { dx: acc.t, dscale }, { center: false });
        const got = valuesOf(dx);
        expect(valuesOf(acc.t)).toEqual(got);
        const ref = layerNormBackwardRef(x.v, scale.v, dy.v, rows, dim, 1e-6, false);
        const lanes = U * (dim / 16 + 16);
        const want = Float64Array.from(ref.dx, (v, i) => v + dres.v[i]!);
        // The reference bound without the mean-error terms (no centering), plus the sum's rounding.
        const err = violation('dx', got, want, (i) => 4 * lanes * ref.dxScale[i]! * 2 + (dtype === 'f32' ? U : 2 ** -8) * Math.abs(want[i]!));
        expect(err).toBeNull();
      } finally {
        for (const t of [x.t, scale.t, dy.t, dres.t, acc.t, rstd, y, dx, dscale]) t.dispose();
      }
    }
  });

  test('typed errors: dresidual of the wrong shape or dtype', () => {
    const x = device.alloc('f32', [4, 6]), s = device.alloc('f32', [6]), st = device.alloc('f32', [4]), ds = device.alloc('f32', [6]);
    const dx = device.alloc('f32', [4, 6]), dy = device.alloc('f32', [4, 6]);
    const wrongShape = device.alloc('f32', [4, 5]), wrongType = device.alloc('bf16', [4, 6]);
    try {
      expect(thrownBy(() => layerNormBackward(device, { x, scale: s, dy, rstd: st, dresidual: wrongShape }, { dx, dscale: ds }, { center: false }))).toMatchObject({ code: 'ERR_SHAPE_MISMATCH', expected: '[4, 6]', received: '[4, 5]' });
      expect(thrownBy(() => layerNormBackward(device, { x, scale: s, dy, rstd: st, dresidual: wrongType }, { dx, dscale: ds }, { center: false }))).toMatchObject({ code: 'ERR_DTYPE_MISMATCH', expected: 'f32', received: 'bf16' });
    } finally {
      for (const t of [x, s, st, ds, dx, dy, wrongShape, wrongType]) t.dispose();
    }
  });
});

describe('typed errors from the native launcher', () => {
  // rows 30, dim 8, f32; layout { 3, 37 } spans (10 - 1) * 37 + 24 = 357 elements = 1428 bytes.
  const L = { groupRows: 3, groupStride: 37 };
  const BYTES = { x: 1428, scale: 32, mean: 120, rstd: 120, dy: 960, dx: 960, dscale: 32, y: 960 };
  const FWD = ['x', 'scale', 'y', 'mean', 'rstd'];
  const BWD = ['x', 'scale', 'mean', 'rstd', 'dy', 'dx', 'dscale'];
  function spec(kernel: 'fwd' | 'bwd', patch: Record<string, unknown>): Record<string, unknown> {
    const s: Record<string, unknown> = { dtype: 'f32', paramType: 'f32', rows: 30, dim: 8, center: true, xLayout: L, ...(kernel === 'fwd' ? { eps: 1e-5 } : {}) };
    for (const name of kernel === 'fwd' ? FWD : BWD) {
      if (!(name in patch)) s[name] = device.native.alloc(BYTES[name as keyof typeof BYTES]);
    }
    return { ...s, ...patch };
  }
  function disposeAll(s: Record<string, unknown>): void {
    for (const v of Object.values(s)) {
      if (typeof v === 'object' && v !== null && 'dispose' in v && !(v as unknown as { disposed: boolean }).disposed) (v as unknown as { dispose(): void }).dispose();
    }
  }
  function expectErr(kernel: 'fwd' | 'bwd', patch: Record<string, unknown>, code: string, expected?: string, received?: string): void {
    const s = spec(kernel, patch);
    try {
      const e = thrownBy(() => launchUntyped(device, `layer_norm_${kernel}`, s));
      expect(e).toBeInstanceOf(Vit22bError);
      expect(e).toMatchObject({ code, ...(expected !== undefined ? { expected } : {}), ...(received !== undefined ? { received } : {}) });
    } finally {
      disposeAll(s);
    }
  }

  test('the baselines are valid (x laid out; y, dy, dx dense; a dresidual in place)', () => {
    for (const [kernel, patch] of [['fwd', {}], ['bwd', {}]] as const) {
      const s = spec(kernel, patch);
      launchUntyped(device, `layer_norm_${kernel}`, s);
      disposeAll(s);
    }
    const s = spec('bwd', {});
    launchUntyped(device, 'layer_norm_bwd', { ...s, dresidual: s.dx, dxLayout: { groupRows: 2, groupStride: 16 }, dresidualLayout: { groupRows: 2, groupStride: 16 } });
    disposeAll(s);
  });

  test('bad layouts', () => {
    expectErr('fwd', { xLayout: { groupRows: 7, groupStride: 100 } }, 'ERR_INVALID_ARGUMENT', 'groupRows dividing 30', '7');
    expectErr('fwd', { yLayout: { groupRows: 4, groupStride: 100 } }, 'ERR_INVALID_ARGUMENT', 'groupRows dividing 30', '4');
    expectErr('fwd', { xLayout: { groupRows: 3, groupStride: 23 } }, 'ERR_INVALID_ARGUMENT', '>= 3 * 8', '23');
    expectErr('bwd', { dyLayout: { groupRows: 5, groupStride: 39 } }, 'ERR_INVALID_ARGUMENT', '>= 5 * 8', '39');
    expectErr('bwd', { dresidualLayout: { groupRows: 9, groupStride: 72 } }, 'ERR_INVALID_ARGUMENT', 'groupRows dividing 30', '9');
    expectErr('fwd', { xLayout: 3 }, 'ERR_INVALID_ARGUMENT', '{ groupRows, groupStride }', 'number');
    expectErr('fwd', { xLayout: [3, 37] }, 'ERR_INVALID_ARGUMENT', '{ groupRows, groupStride }', 'object');
    expectErr('fwd', { xLayout: { groupRows: -1, groupStride: 37 } }, 'ERR_INVALID_ARGUMENT', 'integer in [0, 2^53]', '-1');
    expectErr('bwd', { dxLayout: { groupRows: 1.5, groupStride: 37 } }, 'ERR_INVALID_ARGUMENT', 'integer in [0, 2^53]', '1.5');
    expectErr('bwd', { dxLayout: { groupRows: 3 } }, 'ERR_INVALID_ARGUMENT', 'number', 'undefined');
    // A layout whose extent overflows 2^63 bytes.
    expectErr('fwd', { rows: 2 ** 20, xLayout: { groupRows: 1, groupStride: 2 ** 52 } }, 'ERR_SHAPE_MISMATCH', 'a footprint below 2^63 bytes');
  });

  test('buffers shorter than their layout spans', () => {
    expectErr('fwd', { x: device.native.alloc(1424) }, 'ERR_SHAPE_MISMATCH', '>= 1428 bytes (357 f32)', '1424 bytes');
    expectErr('fwd', { yLayout: L }, 'ERR_SHAPE_MISMATCH', '>= 1428 bytes (357 f32)', '960 bytes');
    expectErr('bwd', { x: device.native.alloc(1000) }, 'ERR_SHAPE_MISMATCH', '>= 1428 bytes (357 f32)', '1000 bytes');
    expectErr('bwd', { dtype: 'bf16', dyLayout: L, dy: device.native.alloc(712) }, 'ERR_SHAPE_MISMATCH', '>= 714 bytes (357 bf16)', '712 bytes');
    expectErr('bwd', { dxLayout: L }, 'ERR_SHAPE_MISMATCH', '>= 1428 bytes (357 f32)', '960 bytes');
    expectErr('bwd', { dresidual: device.native.alloc(956) }, 'ERR_SHAPE_MISMATCH', '>= 960 bytes (240 f32)', '956 bytes');
    expectErr('bwd', { dresidual: device.native.alloc(960), dresidualLayout: L }, 'ERR_SHAPE_MISMATCH', '>= 1428 bytes (357 f32)', '960 bytes');
  });

  test('aliases: dx == dresidual needs the same layout; dresidual may not be another output', () => {
    const shared = device.native.alloc(1428);
    expectErr('bwd', { dx: shared, dresidual: shared, dresidualLayout: L }, 'ERR_INVALID_ARGUMENT', 'distinct buffers, or dx == dresidual with the same layout', 'the same buffer');
    const ds = device.native.alloc(960);
    expectErr('bwd', { dscale: ds, dresidual: ds }, 'ERR_INVALID_ARGUMENT');
    const dy = device.native.alloc(960);
    expectErr('bwd', { dy, dx: dy, dresidual: dy }, 'ERR_INVALID_ARGUMENT');
  });
});

describe('in a child process', () => {
  type ChildOut = Record<string, string> & { cases: number };
  const NAMES = ['y', 'dx', 'mean', 'rstd', 'dscale'];

  test.each(['scalar', 'avx2', 'avx512'])('laid out equals dense bitwise, with finite results (VIT22B_CPU_ISA=%s)', (isa) => {
    const out = runNormsChild<ChildOut>('layer_norm_layout', { VIT22B_CPU_ISA: isa });
    expect(out.cases).toBe(2);
    for (let i = 0; i < out.cases; i++) {
      for (const name of NAMES) {
        expect(out[`${i}-${name}`]).toBeDefined();
        expect(out[`${i}-${name}`]).toBe(out[`${i}-dense-${name}`]);
      }
      const dtype = i === 0 ? 'f32' : 'bf16';
      for (const [name, dt] of [['y', dtype], ['dx', dtype], ['rstd', 'f32'], ['dscale', 'f32']] as const) {
        expect(decodeStorage(out[`${i}-${name}`]!, dt).every(Number.isFinite)).toBe(true);
      }
    }
  });

  test('bitwise identical for 1, 3 and the default thread count', () => {
    const reference = runNormsChild<ChildOut>('layer_norm_layout', { VIT22B_NUM_THREADS: undefined });
    for (const threads of ['1', '3']) expect(runNormsChild<ChildOut>('layer_norm_layout', { VIT22B_NUM_THREADS: threads })).toEqual(reference);
  });
});
