/**
 * Float64 references for the norm and GELU kernel tests, written from the definitions:
 * LayerNorm / RMSNorm forward and analytic backward, GELU (tanh and erf forms) and its derivative,
 * erf / erfc from their series and continued fraction.
 */

/** LayerNorm (center) or RMSNorm (!center) of x [rows, dim]: y, per-row mean and rstd. */
export function layerNormRef(
  x: ArrayLike<number>,
  scale: ArrayLike<number>,
  bias: ArrayLike<number> | undefined,
  rows: number,
  dim: number,
  eps: number,
  center: boolean,
): { y: Float64Array; mean: Float64Array; rstd: Float64Array; xhat: Float64Array } {
  const y = new Float64Array(rows * dim);
  const xhat = new Float64Array(rows * dim);
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let mu = 0;
    if (center) {
      for (let j = 0; j < dim; j++) mu += x[r * dim + j]!;
      mu /= dim;
    }
    let v = 0;
    for (let j = 0; j < dim; j++) v += (x[r * dim + j]! - mu) ** 2;
    v /= dim;
    const rs = 1 / Math.sqrt(v + eps);
    mean[r] = mu;
    rstd[r] = rs;
    for (let j = 0; j < dim; j++) {
      const h = (x[r * dim + j]! - mu) * rs;
      xhat[r * dim + j] = h;
      y[r * dim + j] = h * scale[j]! + (bias ? bias[j]! : 0);
    }
  }
  return { y, mean, rstd, xhat };
}

/**
 * Analytic backward of layerNormRef in float64, and for each output the sum of the absolute values
 * of its terms (the scale a floating-point error bound is proportional to).
 */
export function layerNormBackwardRef(
  x: ArrayLike<number>,
  scale: ArrayLike<number>,
  dy: ArrayLike<number>,
  rows: number,
  dim: number,
  eps: number,
  center: boolean,
): { dx: Float64Array; dxScale: Float64Array; dscale: Float64Array; dscaleScale: Float64Array; dbias: Float64Array; dbiasScale: Float64Array } {
  const { xhat, rstd } = layerNormRef(x, scale, undefined, rows, dim, eps, center);
  const dx = new Float64Array(rows * dim);
  const dxScale = new Float64Array(rows * dim);
  const dscale = new Float64Array(dim);
  const dscaleScale = new Float64Array(dim);
  const dbias = new Float64Array(dim);
  const dbiasScale = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    let meanG = 0, meanGx = 0, meanAbsGx = 0;
    for (let j = 0; j < dim; j++) {
      const g = dy[r * dim + j]! * scale[j]!;
      meanG += g;
      meanGx += g * xhat[r * dim + j]!;
      meanAbsGx += Math.abs(g * xhat[r * dim + j]!);
    }
    meanG = center ? meanG / dim : 0;
    meanGx /= dim;
    meanAbsGx /= dim;
    for (let j = 0; j < dim; j++) {
      const i = r * dim + j;
      const g = dy[i]! * scale[j]!;
      dx[i] = rstd[r]! * (g - meanG - xhat[i]! * meanGx);
      dxScale[i] = rstd[r]! * (Math.abs(g) + Math.abs(meanG) + Math.abs(xhat[i]!) * meanAbsGx);
      dscale[j] = dscale[j]! + dy[i]! * xhat[i]!;
      dscaleScale[j] = dscaleScale[j]! + Math.abs(dy[i]! * xhat[i]!);
      dbias[j] = dbias[j]! + dy[i]!;
      dbiasScale[j] = dbiasScale[j]! + Math.abs(dy[i]!);
    }
  }
  return { dx, dxScale, dscale, dscaleScale, dbias, dbiasScale };
}

// erf(y) = 2/sqrt(pi) e^{-y^2} sum_n 2^n y^{2n+1} / (1 * 3 * ... * (2n+1)): every term positive,
// so no cancellation; used for |y| < 3.
function erfSeries(y: number): number {
  let term = y, sum = y;
  for (let n = 1; n < 200 && Math.abs(term) > 1e-18 * Math.abs(sum); n++) {
    term *= (2 * y * y) / (2 * n + 1);
    sum += term;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-y * y) * sum;
}

// erfc(y) for y >= 3 by its continued fraction e^{-y^2}/sqrt(pi) / (y + (1/2)/(y + 1/(y + (3/2)/(y + ...)))),
// evaluated from the back with enough depth for float64 at y >= 3.
function erfcFraction(y: number): number {
  let f = y;
  for (let k = 120; k >= 1; k--) f = y + k / 2 / f;
  return Math.exp(-y * y) / Math.sqrt(Math.PI) / f;
}

export function erfc(y: number): number {
  if (y >= 3) return erfcFraction(y);
  if (y <= -3) return 2 - erfcFraction(-y);
  return 1 - erfSeries(y);
}

export function erf(y: number): number {
  return Math.abs(y) >= 3 ? Math.sign(y) * (1 - erfcFraction(Math.abs(y))) : erfSeries(y);
}

const K = Math.sqrt(2 / Math.PI);
const C = 0.044715;

/** z = 2u of the tanh form: 0.5 (1 + tanh(u)) = 1 / (1 + e^{-z}). */
export function geluZ(x: number): number {
  return 2 * K * (x + C * x ** 3);
}

/** GELU in float64: tanh form 0.5 x (1 + tanh(u)) = x / (1 + e^{-2u}), erf form x Phi(x). */
export function geluRef(x: number, form: 'tanh' | 'erf'): number {
  if (form === 'tanh') return x / (1 + Math.exp(-geluZ(x)));
  return 0.5 * x * erfc(-x / Math.SQRT2);
}

/** gelu'(x) = a + b, returned as its two terms so a test can bound errors by |a| + |b|. */
export function geluGradTerms(x: number, form: 'tanh' | 'erf'): [number, number] {
  if (form === 'tanh') {
    const s = 1 / (1 + Math.exp(-geluZ(x)));
    return [s, x * s * (1 - s) * 2 * K * (1 + 3 * C * x * x)];
  }
  return [0.5 * erfc(-x / Math.SQRT2), (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI)];
}
