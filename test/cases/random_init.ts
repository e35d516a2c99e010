/**
 * Cases of "random_init" (lib/kernels/random_init.ts; lib/kernels/random_init.ts RandomInitArgs): n
 * values of one distribution, f32 or bf16, each a function of (seed, offset, start + i) alone:
 * element g of a stream is word g % 4 of Philox4x32-10 at counter [lo(g/4), hi(g/4), lo(offset),
 * hi(offset)] under key [lo(seed), hi(seed)], mapped by native/core/random_dist.h's formula:
 *   constant:          a
 *   uniform [a, b):    a + (b - a) (w >> 8) 2^-24 in double, rounded to the storage type; a value
 *                      that rounds onto b (or, in bf16, below a) becomes its neighbour inside [a, b)
 *   normal:            a + b Phi^-1(u),  u = (w + 1/2) 2^-32
 *   truncated normal:  a + b clamp(Phi^-1(Phi(-2) + u (Phi(2) - Phi(-2))), -2, 2)
 * bf16 output is the f32 value rounded to bf16.
 *
 * Reference: Philox4x32-10 of test/cases/shared/philox.ts (philox's reference, which
 * test/cases/philox.ts checks against Random123's known answers), and the mappings above in
 * float64 with a normal quantile of its own: Phi from the Taylor series of erf below
 * |z| = 2 sqrt 2 and erfc's continued fraction above, inverted by Halley's method (relative error
 * of Phi ~1e-13, so |z| within ~1e-13).
 *
 * Tolerances (CPU against the reference):
 *   constant and uniform: exact ({0, 0}): the mapping is a few correctly rounded double operations
 *     and one rounding to the storage type, which the reference performs the same way.
 *   normal and truncated normal: the kernel's quantile is accurate far beyond f32 and rounds
 *     x = a + b z once to f32: rel 2^-23 (one f32 rounding, 2^-24, with a factor 2 of margin), plus
 *     abs 1e-12 |b| for the two quantiles' double-precision error where z ~ 0 (u ~ 1/2). bf16 rounds
 *     the f32 value once more: rel 2^-8 + 2^-22.
 * GPU tolerance: bitwise, as test/gpu/elementwise-checks.cjs checks random_init (the CUDA kernel
 * shares random_dist.h and uses only correctly rounded double operations).
 */
import type { CaseBuffer, KernelCase, KernelCases, Tolerance } from './case-types';
import { EXACT, toBf16, toF32 } from './case-kit';
import { philox4x32 } from './shared/philox';

type DT = 'f32' | 'bf16';
type Dist = 'constant' | 'uniform' | 'normal' | 'truncated_normal';

const POISON = Number.NaN; // what the reference sees in an 'out' buffer (f32 NaN, bf16 0xffff)

const lo32 = (x: bigint): number => Number(x & 0xffffffffn);
const hi32 = (x: bigint): number => Number((x >> 32n) & 0xffffffffn);

/** The stream's words for elements start .. start + n - 1. */
function streamWords(seed: bigint, offset: bigint, start: bigint, n: number): Uint32Array {
  const out = new Uint32Array(n);
  const key = [lo32(seed), hi32(seed)];
  let block = -1n;
  let words: number[] = [];
  for (let i = 0; i < n; i++) {
    const g = start + BigInt(i);
    if (g >> 2n !== block) {
      block = g >> 2n;
      words = philox4x32([lo32(block), hi32(block), lo32(offset), hi32(offset)], key);
    }
    out[i] = words[Number(g & 3n)]!;
  }
  return out;
}

// ---- the standard normal in float64 -----------------------------------------------------------

const SQRT_PI = Math.sqrt(Math.PI);

/** erf(x) by its Taylor series, 0 <= x < 2: the largest term is ~20, so the absolute error ~1e-15. */
function erfSeries(x: number): number {
  let term = x; // (-1)^k x^(2k+1) / k!
  let sum = x;
  for (let k = 1; k < 200; k++) {
    term *= (-x * x) / k;
    const add = term / (2 * k + 1);
    sum += add;
    if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
  }
  return (2 / SQRT_PI) * sum;
}

/** erfc(x) for x >= 2 by its continued fraction exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))). */
function erfcContinuedFraction(x: number): number {
  let tail = x;
  for (let k = 300; k >= 1; k--) tail = x + k / 2 / tail;
  return Math.exp(-x * x) / SQRT_PI / tail;
}

/** Phi(z) for z <= 0, with small relative error (the lower tail is where the quantile needs it). */
function lowerCdf(z: number): number {
  const x = -z / Math.SQRT2;
  return x < 2 ? 0.5 * (1 - erfSeries(x)) : 0.5 * erfcContinuedFraction(x);
}

/** Phi(z) for any z (the upper half from the lower tail: 1 - small is accurate there). */
function cdf(z: number): number {
  return z <= 0 ? lowerCdf(z) : 1 - lowerCdf(-z);
}

/** Phi^-1(p) for p in (0, 1/2]: a rough start (A&S 26.2.22, |error| < 3e-3), then Halley steps on Phi(z) = p. */
function lowerQuantile(p: number): number {
  const t = Math.sqrt(-2 * Math.log(p));
  let z = -(t - (2.30753 + 0.27061 * t) / (1 + 0.99229 * t + 0.04481 * t * t));
  for (let it = 0; it < 20; it++) {
    const e = (cdf(z) - p) / (Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI));
    const dz = e / (1 + (z * e) / 2);
    z -= dz;
    if (Math.abs(dz) <= 1e-16 * Math.max(1, Math.abs(z))) break;
  }
  return Math.min(z, 0);
}

/** Phi^-1(p) for p in (0, 1), by symmetry from the lower tail (1 - p is exact for p >= 1/2). */
function quantile(p: number): number {
  return p > 0.5 ? -lowerQuantile(1 - p) : lowerQuantile(p);
}

const PHI_MINUS_2 = lowerCdf(-2);

// ---- storage-type neighbours, for uniform's half-open range ----------------------------------

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The f32 value of the given bits. */
function f32FromBits(bits: number): number {
  u32[0] = bits >>> 0;
  return f32[0]!;
}

function f32Bits(x: number): number {
  f32[0] = x;
  return u32[0]!;
}

/** The largest f32 strictly below the f32 value y. */
function f32Below(y: number): number {
  if (y > 0) return f32FromBits(f32Bits(y) - 1);
  if (y === 0) return -f32FromBits(1);
  return f32FromBits(f32Bits(y) + 1);
}

/** The next bf16 value below (dir -1) or above (dir +1) the bf16 value y (sign-magnitude bits). */
function bf16Step(y: number, dir: -1 | 1): number {
  if (y === 0) return f32FromBits((dir > 0 ? 0x0001 : 0x8001) << 16);
  const bits = f32Bits(y) >>> 16;
  const awayFromZero = y > 0 === dir > 0;
  return f32FromBits((awayFromZero ? bits + 1 : bits - 1) << 16);
}

// ---- the reference ------------------------------------------------------------------------------

interface Init {
  dist: Dist;
  a: number;
  b?: number;
}

/** Element values for words `w`, in float64 (normal) or exactly as stored (constant, uniform). */
function values(dtype: DT, init: Init, w: Uint32Array): Float64Array {
  const a = toF32(init.a); // the kernel receives a and b as f32
  const b = toF32(init.b ?? 0);
  const store = dtype === 'f32' ? toF32 : toBf16;
  const out = new Float64Array(w.length);
  for (let i = 0; i < w.length; i++) {
    const word = w[i]!;
    switch (init.dist) {
      case 'constant':
        out[i] = store(a);
        break;
      case 'uniform': {
        let x = store(a + (b - a) * ((word >>> 8) / 2 ** 24));
        if (x >= b) x = dtype === 'f32' ? f32Below(b) : toBf16(b) < b ? toBf16(b) : bf16Step(toBf16(b), -1);
        if (x < a) x = toBf16(a) >= a ? toBf16(a) : bf16Step(toBf16(a), 1); // bf16 only: f32 never rounds below a
        out[i] = x;
        break;
      }
      case 'normal':
        out[i] = a + b * quantile((word + 0.5) / 2 ** 32);
        break;
      case 'truncated_normal': {
        const p = PHI_MINUS_2 + ((word + 0.5) / 2 ** 32) * (1 - 2 * PHI_MINUS_2);
        out[i] = a + b * Math.min(2, Math.max(-2, quantile(p)));
        break;
      }
    }
  }
  return out;
}

function tolerance(dtype: DT, init: Init): Tolerance {
  if (init.dist === 'constant' || init.dist === 'uniform') return EXACT;
  const abs = 1e-12 * Math.abs(toF32(init.b ?? 0));
  return dtype === 'f32' ? { abs, rel: 2 ** -23 } : { abs, rel: 2 ** -8 + 2 ** -22 };
}

interface Stream {
  seed: bigint | number;
  offset: bigint | number;
  start: bigint | number;
}

const big = (x: bigint | number): bigint => BigInt(x);
const show = (x: bigint | number): string => (typeof x === 'bigint' ? `${x}n` : String(x));

function initName(init: Init): string {
  switch (init.dist) {
    case 'constant':
      return `constant ${Object.is(init.a, -0) ? '-0' : init.a}`;
    case 'uniform':
      return `uniform [${init.a}, ${init.b})`;
    default:
      return `${init.dist} (mean ${init.a}, std ${init.b})`;
  }
}

/** One case: n elements of `init` from `stream`; the buffer holds `extra` more, which stay poison. */
function initCase(dtype: DT, n: number, init: Init, stream: Stream, extra = 0): KernelCase {
  const size = n + extra;
  const buffers: Record<string, CaseBuffer> = { out: { dtype, size, role: 'out' } };
  return {
    name: `${dtype} ${initName(init)}, n=${n}${extra ? ` (+${extra} untouched)` : ''}, seed ${show(stream.seed)}, offset ${show(stream.offset)}, start ${show(stream.start)}`,
    dtype,
    layout: init.dist,
    buffers,
    spec: (b) => ({ dtype, dist: init.dist, seed: stream.seed, offset: stream.offset, start: stream.start, n, a: init.a, b: init.b ?? 0, out: b.out }),
    reference: () => {
      const out = new Float64Array(size).fill(POISON);
      out.set(values(dtype, init, streamWords(big(stream.seed), big(stream.offset), big(stream.start), n)));
      return { out };
    },
    tolerance: tolerance(dtype, init),
    gpuTolerance: EXACT,
  };
}

const INITS: Init[] = [
  { dist: 'constant', a: 0.3 },
  { dist: 'constant', a: -0 },
  { dist: 'uniform', a: -0.75, b: 1.25 },
  { dist: 'uniform', a: -0.1, b: 0.3 },
  // A range narrower than the storage type's spacing: every value rounds onto a bound and is moved
  // inside [a, b) (f32: onto b, then below it; bf16: b rounds down to 1 = a).
  { dist: 'uniform', a: 1, b: 1.0000001 },
  // In bf16, values near 1.1 round up to bf16(1.1) > 1.1 and must come back below it.
  { dist: 'uniform', a: 0.9, b: 1.1 },
  { dist: 'normal', a: 0, b: 1 },
  { dist: 'normal', a: 0.5, b: 2 },
  { dist: 'truncated_normal', a: 0, b: 1 },
  { dist: 'truncated_normal', a: -1, b: 3 },
  { dist: 'truncated_normal', a: 0, b: 0.02 },
];

const STREAMS: Stream[] = [
  { seed: 0, offset: 0, start: 0 },
  // The shard case: a slice of a tensor (start) of a later draw (offset).
  { seed: 42, offset: 7, start: 3 },
  // 64-bit seed and offset as BigInts, and a start above 2^32 (the block index's high word is set).
  { seed: 2n ** 63n + 5n, offset: 2n ** 40n + 1n, start: 2 ** 33 + 1 },
  // The block index crosses 2^32 inside the range (carry into the counter's second word).
  { seed: 0xffffffff, offset: 0, start: 4 * 0xffffffff - 2 },
  // The largest seed, 2^64 - 1 (key [0xffffffff, 0xffffffff]), as a BigInt.
  { seed: (1n << 64n) - 1n, offset: 1n, start: 0n },
];

const cases: KernelCase[] = [];
for (const dtype of ['f32', 'bf16'] as const) {
  INITS.forEach((init, k) => {
    // Every distribution with every stream at a prime size; the sizes rotate so each distribution
    // also meets 1 and 17 somewhere.
    STREAMS.forEach((stream, s) => cases.push(initCase(dtype, [17, 129, 1, 3, 1031][(k + s) % 5]!, init, stream, s === 1 ? 2 : 0)));
  });
  // Over 16384 elements: several tasks on the thread pool, with a short last one. (The normal
  // quantile reference costs seconds for this size under jest, so normal runs it in f32 only; the
  // task split does not depend on the distribution.)
  cases.push(initCase(dtype, 32773, { dist: 'uniform', a: -0.75, b: 1.25 }, { seed: 77, offset: 4, start: 5 }));
  if (dtype === 'f32') cases.push(initCase(dtype, 32773, { dist: 'normal', a: -0.5, b: 0.75 }, { seed: 77, offset: 4, start: 5 }, 3));
  cases.push(initCase(dtype, 4099, { dist: 'truncated_normal', a: 0.1, b: 0.02 }, { seed: 2024n, offset: 3, start: 501 }));
  cases.push(initCase(dtype, 4099, { dist: 'constant', a: -10 }, { seed: 1, offset: 0, start: 0 }));
}

const randomInit: KernelCases = { kernel: 'random_init', cases };
export default randomInit;
