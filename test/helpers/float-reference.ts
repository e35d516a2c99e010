/**
 * Reference arithmetic for tests, written from the IEEE 754 definitions and independent of
 * lib/runtime: float32 bit access through a DataView, bfloat16 decoding, round-to-nearest-even to
 * bfloat16 computed in float64, and axpby in float64.
 */

const view = new DataView(new ArrayBuffer(4));

export function f32BitsOf(x: number): number {
  view.setFloat32(0, x);
  return view.getUint32(0);
}

export function f32FromBits(bits: number): number {
  view.setUint32(0, bits >>> 0);
  return view.getFloat32(0);
}

/** bf16 is the upper half of a float32: decoding is exact. */
export function decodeBf16(bits: number): number {
  return f32FromBits(((bits & 0xffff) << 16) >>> 0);
}

export function isBf16NaN(bits: number): boolean {
  return (bits & 0x7f80) === 0x7f80 && (bits & 0x007f) !== 0;
}

/**
 * The bf16 bits nearest to the float32 value `x` (ties to the even mantissa), NaN -> undefined
 * (callers check NaN separately: any NaN encoding is acceptable there).
 *
 * Method: the two bf16 neighbours of x are its float32 bits truncated to the top 16 (`lo`, toward
 * zero) and that plus one unit in the last place (`hi`, away from zero; sign-magnitude encoding
 * makes +1 move away from zero for both signs). Both, and x, are exact in float64, so the distances
 * are exact. When `hi` is the infinity encoding, IEEE rounding treats it as the value 2^128 (the
 * next power of two with an unbounded exponent), which is how values near FLT_MAX round to infinity.
 */
export function referenceBf16Bits(x: number): number | undefined {
  if (Number.isNaN(x)) return undefined;
  const bits = f32BitsOf(x);
  if ((bits & 0x7fffffff) === 0x7f800000) return bits >>> 16; // ±Infinity stays itself
  const lo = bits >>> 16;
  if ((bits & 0xffff) === 0) return lo; // exactly representable
  const hi = lo + 1;
  const xf = f32FromBits(bits); // x as a float32, exactly
  const loValue = decodeBf16(lo);
  const hiMagnitude = (hi & 0x7fff) === 0x7f80 ? 2 ** 128 : Math.abs(decodeBf16(hi));
  const dLo = Math.abs(Math.abs(xf) - Math.abs(loValue));
  const dHi = Math.abs(hiMagnitude - Math.abs(xf));
  if (dLo < dHi) return lo;
  if (dHi < dLo) return hi;
  return (lo & 1) === 0 ? lo : hi; // a tie: the even mantissa
}

/** y = alpha * x + beta * y in float64, with the per-element error scale |alpha*x| + |beta*y|. */
export function axpbyReference(
  alpha: number,
  x: ArrayLike<number>,
  beta: number,
  y: ArrayLike<number>,
): { ref: Float64Array; scale: Float64Array } {
  const n = x.length;
  const ref = new Float64Array(n);
  const scale = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    ref[i] = alpha * x[i]! + beta * y[i]!;
    scale[i] = Math.abs(alpha * x[i]!) + Math.abs(beta * y[i]!);
  }
  return { ref, scale };
}

/**
 * Checks |got - ref| <= rel * scale + abs element by element. Returns a description of the first
 * violation (with its index) or null, so a failure names the element instead of dumping arrays.
 */
export function firstViolation(
  got: ArrayLike<number>,
  ref: ArrayLike<number>,
  scale: ArrayLike<number>,
  rel: number,
  abs: number,
): string | null {
  if (got.length !== ref.length) return `length ${got.length}, expected ${ref.length}`;
  for (let i = 0; i < ref.length; i++) {
    const bound = rel * scale[i]! + abs;
    const err = Math.abs(got[i]! - ref[i]!);
    if (!(err <= bound)) return `element ${i}: got ${got[i]}, reference ${ref[i]}, |error| ${err} > bound ${bound}`;
  }
  return null;
}
