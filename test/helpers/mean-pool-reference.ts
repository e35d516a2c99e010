/**
 * The float64 mean pool over tokens, x [b, t, d] -> y [b, d], written from its definition (the mean
 * of each column over t): the forward of test/cases/mean_pool.ts and the function whose finite
 * differences test/cases/mean_pool_bwd.ts checks its backward against, and the shapes both use.
 * No imports: it is bundled into dist/kernel-checks.cjs.
 */

// [b, t, d]: one token, odd shapes, d past one 512-column slice, and b t d >= 2^16 (the pool).
export const MEAN_POOL_SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 7, 13],
  [3, 17, 5],
  [13, 17, 7],
  [5, 3, 1030],
  [2, 129, 600],
];

export function meanPoolReference(x: ArrayLike<number>, b: number, t: number, d: number): Float64Array {
  const y = new Float64Array(b * d);
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < d; j++) {
      let sum = 0;
      for (let k = 0; k < t; k++) sum += x[(i * t + k) * d + j]!;
      y[i * d + j] = sum / t;
    }
  }
  return y;
}
