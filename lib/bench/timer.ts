/**
 * Median wall time of a synchronous call: one warm-up call, then at least `minCalls` timed calls
 * and until `budgetSeconds` have passed (at most `maxCalls`). The median, not the mean, so one
 * descheduled call on a shared machine does not move the figure.
 */
export interface Timing {
  medianSeconds: number;
  calls: number;
}

export function timeMedian(fn: () => void, budgetSeconds = 1.5, minCalls = 3, maxCalls = 64): Timing {
  fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < maxCalls && (times.length < minCalls || performance.now() - start < budgetSeconds * 1000)) {
    const t0 = performance.now();
    fn();
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return { medianSeconds: times[times.length >> 1]!, calls: times.length };
}
