/**
 * Tolerances of the collective reductions against float64: the kernel sums at most 4 terms in
 * [-2, 2) in f32 (each add within 2^-24 relative, so within ~1e-6 absolute in all), scales once and
 * rounds once to the storage type (2^-24 for f32, 2^-9 for bf16, bounded here by 2^-8 with the f32
 * error). Data movement (all_gather, collective_permute, axis_slice) is exact.
 */
export const SUM_TOLERANCE = {
  f32: { abs: 2e-6, rel: 1e-6 },
  bf16: { abs: 2e-6, rel: 2 ** -8 },
} as const;
