/**
 * Offsets in one arena for buffers with known lifetimes, so that buffers alive at the same time never
 * overlap. Greedy by size (largest first, each at the lowest gap that fits among the buffers already
 * placed that overlap it in time), the scheme TFLite's and XLA's planners start from: near the
 * lower bound max-over-time of live bytes on transformer schedules, and never above the sum of all
 * buffers.
 */

/** A buffer of `bytes` live from node `start` to node `end`, both inclusive. */
export interface Lifetime {
  bytes: number;
  start: number;
  end: number;
}

export interface OffsetAssignment {
  offsets: number[];
  /** The arena size: the highest end of any placed buffer. */
  peak: number;
}

export function alignUp(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}

export function assignOffsets(buffers: readonly Lifetime[], align = 256): OffsetAssignment {
  const order = buffers.map((_, i) => i).sort((a, b) => buffers[b]!.bytes - buffers[a]!.bytes || buffers[a]!.start - buffers[b]!.start || a - b);
  const offsets = new Array<number>(buffers.length).fill(0);
  const placed: number[] = [];
  let peak = 0;
  for (const i of order) {
    const b = buffers[i]!;
    const size = alignUp(b.bytes, align);
    if (size === 0) continue;
    // Buffers already placed that are alive at some moment this one is, by offset.
    const clashes = placed
      .filter((j) => buffers[j]!.start <= b.end && b.start <= buffers[j]!.end)
      .sort((x, y) => offsets[x]! - offsets[y]!);
    let offset = 0;
    for (const j of clashes) {
      if (offset + size <= offsets[j]!) break;
      offset = Math.max(offset, offsets[j]! + alignUp(buffers[j]!.bytes, align));
    }
    offsets[i] = offset;
    placed.push(i);
    peak = Math.max(peak, offset + size);
  }
  return { offsets, peak };
}
