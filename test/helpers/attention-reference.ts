/**
 * Multi-head attention in float64 for the kernel tests: the forward (O and the row log-sum-exp),
 * its analytic backward and per-element error scales. Operands are dense [B, T, H, Dh] arrays;
 * lse is [B, H, Tq].
 */

export interface AttnDims {
  batch: number;
  heads: number;
  tq: number;
  tk: number;
  headDim: number;
}

const at = (d: AttnDims, t: number, b: number, i: number, h: number): number => ((b * t + i) * d.heads + h) * d.headDim;

/** The scores row i of (b, h), the softmax P, and its log-sum-exp. */
function probabilities(d: AttnDims, q: ArrayLike<number>, k: ArrayLike<number>, scale: number, b: number, h: number, i: number): { p: Float64Array; lse: number } {
  const s = new Float64Array(d.tk);
  const qi = at(d, d.tq, b, i, h);
  let max = -Infinity;
  for (let j = 0; j < d.tk; j++) {
    const kj = at(d, d.tk, b, j, h);
    let dot = 0;
    for (let x = 0; x < d.headDim; x++) dot += q[qi + x]! * k[kj + x]!;
    s[j] = scale * dot;
    max = Math.max(max, s[j]!);
  }
  let sum = 0;
  for (let j = 0; j < d.tk; j++) sum += Math.exp(s[j]! - max);
  const p = new Float64Array(d.tk);
  for (let j = 0; j < d.tk; j++) p[j] = Math.exp(s[j]! - max) / sum;
  return { p, lse: max + Math.log(sum) };
}

export interface ForwardReference {
  o: Float64Array; // [B, Tq, H, Dh]
  lse: Float64Array; // [B, H, Tq]
  /** Per element of o: sum_j P_ij |v_jd|, the size the rounding error of o is relative to. */
  oScale: Float64Array;
}

export function attentionForwardRef(d: AttnDims, q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, scale: number): ForwardReference {
  const o = new Float64Array(d.batch * d.tq * d.heads * d.headDim);
  const oScale = new Float64Array(o.length);
  const lse = new Float64Array(d.batch * d.heads * d.tq);
  for (let b = 0; b < d.batch; b++) {
    for (let h = 0; h < d.heads; h++) {
      for (let i = 0; i < d.tq; i++) {
        const { p, lse: l } = probabilities(d, q, k, scale, b, h, i);
        lse[(b * d.heads + h) * d.tq + i] = l;
        const oi = at(d, d.tq, b, i, h);
        for (let j = 0; j < d.tk; j++) {
          const vj = at(d, d.tk, b, j, h);
          for (let x = 0; x < d.headDim; x++) {
            o[oi + x] = o[oi + x]! + p[j]! * v[vj + x]!;
            oScale[oi + x] = oScale[oi + x]! + p[j]! * Math.abs(v[vj + x]!);
          }
        }
      }
    }
  }
  return { o, lse, oScale };
}

export interface BackwardReference {
  dq: Float64Array;
  dk: Float64Array;
  dv: Float64Array;
  /** Per element: the same sums with every term in absolute value (the rounding error scale). */
  dqScale: Float64Array;
  dkScale: Float64Array;
  dvScale: Float64Array;
}

/**
 * dQ, dK, dV of O = softmax(scale Q K^T) V for the upstream gradient dO, with D = rowsum(dO * O)
 * taken from the exact O. The scales bound what f32 arithmetic on (dO V^T - D) can lose:
 * |dP_ij| and |D_i| are replaced by sum_d |dO_id v_jd| and sum_d |dO_id o_id|.
 */
export function attentionBackwardRef(d: AttnDims, q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, dO: ArrayLike<number>, scale: number): BackwardReference {
  const n = (t: number): number => d.batch * t * d.heads * d.headDim;
  const r: BackwardReference = {
    dq: new Float64Array(n(d.tq)), dk: new Float64Array(n(d.tk)), dv: new Float64Array(n(d.tk)),
    dqScale: new Float64Array(n(d.tq)), dkScale: new Float64Array(n(d.tk)), dvScale: new Float64Array(n(d.tk)),
  };
  const { o } = attentionForwardRef(d, q, k, v, scale);
  for (let b = 0; b < d.batch; b++) {
    for (let h = 0; h < d.heads; h++) {
      for (let i = 0; i < d.tq; i++) {
        const { p } = probabilities(d, q, k, scale, b, h, i);
        const qi = at(d, d.tq, b, i, h);
        let delta = 0, deltaAbs = 0;
        for (let x = 0; x < d.headDim; x++) {
          delta += dO[qi + x]! * o[qi + x]!;
          deltaAbs += Math.abs(dO[qi + x]! * o[qi + x]!);
        }
        for (let j = 0; j < d.tk; j++) {
          const kj = at(d, d.tk, b, j, h);
          let dp = 0, dpAbs = 0;
          for (let x = 0; x < d.headDim; x++) {
            dp += dO[qi + x]! * v[kj + x]!;
            dpAbs += Math.abs(dO[qi + x]! * v[kj + x]!);
          }
          const ds = scale * p[j]! * (dp - delta);
          const dsAbs = scale * p[j]! * (dpAbs + deltaAbs);
          for (let x = 0; x < d.headDim; x++) {
            r.dv[kj + x] = r.dv[kj + x]! + p[j]! * dO[qi + x]!;
            r.dvScale[kj + x] = r.dvScale[kj + x]! + p[j]! * Math.abs(dO[qi + x]!);
            r.dq[qi + x] = r.dq[qi + x]! + ds * k[kj + x]!;
            r.dqScale[qi + x] = r.dqScale[qi + x]! + dsAbs * Math.abs(k[kj + x]!);
            r.dk[kj + x] = r.dk[kj + x]! + ds * q[qi + x]!;
            r.dkScale[kj + x] = r.dkScale[kj + x]! + dsAbs * Math.abs(q[qi + x]!);
          }
        }
      }
    }
  }
  return r;
}
