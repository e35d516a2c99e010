/**
 * Collectives by the ring formulas (n ranks on the axis, B bytes/s one way per device on the ring's
 * slowest hop, a the latency of one hop):
 *
 *   all_gather      input s (the shard), output n·s: n-1 steps, each sends s    (n-1)·(a + s/B)
 *   reduce_scatter  input n·s, output s:             n-1 steps, each sends s    (n-1)·(a + s/B)
 *   all_reduce      S bytes: a reduce-scatter then an all-gather of S/n each    2·(n-1)·(a + S/(n·B))
 *   collective_permute  S bytes to one neighbour                                a + S/B
 *
 * A ring is bandwidth-optimal for large messages (each device sends (n-1)/n of the data, the
 * minimum); for the small all-reduces (norm statistics) the latency term dominates, which a tree
 * would shorten to log2(n) hops: the planner takes the smaller of the ring and a binary tree
 * (2·log2(n)·(a + S/B)) for all-reduce, as NCCL picks between them by size.
 */
export type CollectiveKind = 'all_gather' | 'reduce_scatter' | 'all_reduce' | 'collective_permute';

export interface RingLink {
  /** Bytes per second one way on the slowest hop. */
  bytesPerSecond: number;
  /** Seconds of latency per step, summed over the hops of one step in the ring's slowest member. */
  hopSeconds: number;
}

/** Bytes this device sends for one collective whose input is `inputBytes` (the plan's x view). */
export function bytesSent(kind: CollectiveKind, inputBytes: number, n: number): number {
  if (n <= 1) return 0;
  switch (kind) {
    case 'all_gather':
      return (n - 1) * inputBytes;
    case 'reduce_scatter':
      return ((n - 1) * inputBytes) / n;
    case 'all_reduce':
      return (2 * (n - 1) * inputBytes) / n;
    case 'collective_permute':
      return inputBytes;
  }
}

/** Seconds of one collective (input `inputBytes`, as the plan's x view) on an axis of n ranks. */
export function collectiveSeconds(kind: CollectiveKind, inputBytes: number, n: number, link: RingLink): number {
  if (n <= 1) return 0;
  const a = link.hopSeconds;
  const B = link.bytesPerSecond;
  switch (kind) {
    case 'all_gather':
      return (n - 1) * (a + inputBytes / B);
    case 'reduce_scatter':
      return (n - 1) * (a + inputBytes / n / B);
    case 'all_reduce': {
      const ring = 2 * (n - 1) * (a + inputBytes / (n * B));
      const tree = 2 * Math.ceil(Math.log2(n)) * (a + inputBytes / B);
      return Math.min(ring, tree);
    }
    case 'collective_permute':
      return a + inputBytes / B;
  }
}
