/**
 * Where few-shot's two large products run: the Gram matrices A = Xc^T Xc, B = Xc^T Yc of the
 * centered support set, and the scores X W of a scoring set (test, or a validation sample).
 * The host backend is float64 loops (the reference); the device backend is the f32 GEMM kernel
 * (lib/runtime/ops/gemm.ts) on whatever device was opened, with the scoring set uploaded once and
 * only W ([dim, classes], small) per fit. The Cholesky solve stays float64 on the host (d x d).
 */
import type { Device } from '../runtime/device';
import type { DeviceTensor } from '../runtime/tensor';
import { argmaxRow, type FeatureMatrix } from './matrix';

/** A scoring set prepared once: accuracy of argmax(X W + offset) for any W [dim, classes]. */
export interface RidgeScorer extends Disposable {
  accuracy(w: Float64Array, offset: Float64Array): number;
}

export interface RidgeBackend {
  /** A [d, d] (lower triangle at least) and B [d, classes] from centered xc [m, d] and yc [m, classes]. */
  gram(xc: Float64Array, yc: Float64Array, m: number, d: number, classes: number): { a: Float64Array; b: Float64Array };
  scorer(f: FeatureMatrix, classes: number): RidgeScorer;
}

export const hostRidge: RidgeBackend = {
  gram(xc, yc, m, d, classes) {
    const a = new Float64Array(d * d);
    const b = new Float64Array(d * classes);
    for (let i = 0; i < m; ++i) {
      const row = i * d;
      for (let p = 0; p < d; ++p) {
        const v = xc[row + p]!;
        for (let q = 0; q <= p; ++q) a[p * d + q]! += v * xc[row + q]!;
        for (let c = 0; c < classes; ++c) b[p * classes + c]! += v * yc[i * classes + c]!;
      }
    }
    return { a, b };
  },
  scorer(f, classes) {
    const d = f.dim;
    return {
      accuracy(w, offset) {
        const s = new Float64Array(classes);
        let right = 0;
        for (let i = 0; i < f.n; ++i) {
          s.set(offset);
          for (let j = 0; j < d; ++j) {
            const v = f.x[i * d + j]!;
            for (let c = 0; c < classes; ++c) s[c]! += v * w[j * classes + c]!;
          }
          if (argmaxRow(s, 0, classes) === f.labels[i]) right++;
        }
        return right / f.n;
      },
      [Symbol.dispose]() {},
    };
  },
};

export function deviceRidge(device: Device): RidgeBackend {
  const f32 = (a: ArrayLike<number>) => (a instanceof Float32Array ? a : Float32Array.from(a));
  return {
    gram(xc, yc, m, d, classes) {
      using x = device.tensor('f32', [m, d], f32(xc));
      using y = device.tensor('f32', [m, classes], f32(yc));
      using a = device.alloc('f32', [d, d]);
      using b = device.alloc('f32', [d, classes]);
      device.gemm(x, x, a, { transA: true });
      device.gemm(x, y, b, { transA: true });
      return { a: Float64Array.from(a.download() as Float32Array), b: Float64Array.from(b.download() as Float32Array) };
    },
    scorer(f, classes) {
      // Uploaded once; each fit sends W and reads the [n, classes] scores back.
      const x: DeviceTensor = device.tensor('f32', [f.n, f.dim], f32(f.x));
      const s = device.alloc('f32', [f.n, classes]);
      return {
        accuracy(w, offset) {
          using wt = device.tensor('f32', [f.dim, classes], f32(w));
          device.gemm(x, wt, s);
          const scores = s.download() as Float32Array;
          const row = new Float64Array(classes);
          let right = 0;
          for (let i = 0; i < f.n; ++i) {
            for (let c = 0; c < classes; ++c) row[c] = scores[i * classes + c]! + offset[c]!;
            if (argmaxRow(row, 0, classes) === f.labels[i]) right++;
          }
          return right / f.n;
        },
        [Symbol.dispose]() {
          x.dispose();
          s.dispose();
        },
      };
    },
  };
}
