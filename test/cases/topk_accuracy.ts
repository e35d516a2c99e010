/**
 * topk_accuracy (lib/kernels/topk_accuracy.ts TopkAccuracyArgs; spec at the top of
 * lib/kernels/topk_accuracy.ts): counts[0] = examples whose label is the argmax,
 * counts[1] = examples whose label is among the top k; f32 and bf16 logits.
 *
 * Reference: the label's rank from a full sort of its row (descending value, ties to the lower
 * index, as an argmax keeping the first maximum), written independently of the kernel's one-pass
 * count. A NaN is never greater than anything (the kernel compares with > and >=), so NaNs sort
 * last; a NaN label logit is never counted (kernels.h).
 * Inputs: logits uniform in [-3, 3) with every other one an integer in [-2, 2] (ties are common,
 * more so in bf16), labels uniform in [0, C), and in two rows of three the label's logit set to a
 * value near the top of its row (so that hits are common); k = 1, 3, 5 and C + 2.
 *
 * Tolerance: exact, on the CPU and CUDA vs CPU (integer counts; test/kernels/reductions.test.ts
 * and test/gpu/optim-checks.cjs compare them exactly).
 */
import type { KernelCase, KernelCases } from './case-types';
import { EXACT, integers, roundTo, uniform } from './case-kit';

type Storage = 'f32' | 'bf16';


/** Rank of `label` in `row` by a full sort (NaNs last, ties by index). */
function rankBySort(row: ArrayLike<number>, label: number): number {
  const order = Array.from({ length: row.length }, (_, j) => j);
  order.sort((a, b) => {
    const x = row[a]!, y = row[b]!;
    if (Number.isNaN(x) !== Number.isNaN(y)) return Number.isNaN(x) ? 1 : -1;
    if (x > y) return -1;
    if (x < y) return 1;
    return a - b;
  });
  return order.indexOf(label);
}

function topkRef(x: ArrayLike<number>, labels: ArrayLike<number>, n: number, c: number, k: number): number[] {
  let top1 = 0, topk = 0;
  for (let i = 0; i < n; i++) {
    const row = Array.from({ length: c }, (_, j) => x[i * c + j]!);
    const label = labels[i]!;
    if (Number.isNaN(row[label]!)) continue;
    const r = rankBySort(row, label);
    if (r === 0) top1++;
    if (r < k) topk++;
  }
  return [top1, topk];
}

function makeCase(dtype: Storage, n: number, c: number, k: number, seed: number, logits?: Float64Array, labels?: Float64Array, what?: string): KernelCase {
  const x = logits ?? uniform(n * c, seed, -3, 3);
  const lab = labels ?? integers(n, seed + 2, 0, c - 1);
  if (!logits) {
    const ints = integers(n * c, seed + 1, -2, 2);
    for (let i = 0; i < n * c; i += 2) x[i] = ints[i]!;
    // Two rows in three get the label's logit equal to the row's (i mod 7)-th largest value, so the
    // label's rank lands near 0..6 (ties included) and k = 1, 3, 5 all count hits and misses even
    // with 1000 classes; the other rows keep random ranks.
    for (let i = 0; i < n; i++) {
      if (i % 3 === 2) continue;
      const sorted = Array.from(x.subarray(i * c, (i + 1) * c)).sort((a, b) => b - a);
      x[i * c + lab[i]!] = sorted[Math.min(c - 1, i % 7)]!;
    }
  }
  const kText = k === 1 ? 'k = 1' : k < c ? '1 < k < C' : 'k >= C';
  return {
    name: `${dtype} ${n}x${c} k ${k}${what ? ` ${what}` : ''}`,
    dtype,
    layout: `${kText}${what ? `, ${what}` : ''}`,
    buffers: {
      logits: { dtype, size: n * c, role: 'in', data: roundTo(dtype, x) },
      labels: { dtype: 'i32', size: n, role: 'in', data: lab },
      counts: { dtype: 'i32', size: 2, role: 'out' },
    },
    spec: (b) => ({ dtype, n, c, k, logits: b.logits, labels: b.labels, counts: b.counts }),
    reference: (initial) => ({ counts: topkRef(initial.logits!, initial.labels!, n, c, k) }),
    tolerance: EXACT,
    gpuTolerance: EXACT,
  };
}

const cases: KernelCase[] = [];
let seed = 5000;

// One class, odd shapes, more classes than examples and the reverse, a 1000-class head, enough work
// for the CPU's row threads (>= 2^16 logits), many rows (CUDA's one block per row) and a
// 21843-class row (CUDA's grid-stride loop). The sort-based reference is slow on the large shapes:
// they take k = 5 only (each case counts top-1 too).
const SHAPES: [number, number][] = [[1, 1], [3, 17], [17, 3], [129, 33], [40, 1000], [129, 517], [1031, 37], [3, 21843]];
for (const dtype of ['f32', 'bf16'] as const) {
  for (const [n, c] of SHAPES) {
    const ks = n * c > 20000 ? [5] : [1, 3, 5, c + 2];
    for (const k of [...new Set(ks)]) cases.push(makeCase(dtype, n, c, k, seed++));
  }
}

// Ties, NaN and infinities, by hand: row 0's label ties with an earlier index (loses top-1), row 1's
// with a later one (wins), row 2 has a NaN elsewhere (ignored), row 3's label logit is NaN (never
// counted), row 4's label is +inf tied with a later +inf (wins), row 5's label is -inf below a NaN
// (last but the NaN: rank C - 2), row 6 is all equal (the label's rank is its index).
{
  const c = 4;
  const rows = [
    [5, 5, 1, 0], [5, 5, 1, 0], [2, NaN, 1, 0], [NaN, 0, 0, 3], [Infinity, 1, Infinity, 2], [NaN, -Infinity, 0, 1], [7, 7, 7, 7],
  ];
  const labels = Float64Array.of(1, 0, 0, 0, 0, 1, 2);
  const logits = Float64Array.from(rows.flat());
  for (const dtype of ['f32', 'bf16'] as const) {
    for (const k of [1, 2, 3]) cases.push(makeCase(dtype, rows.length, c, k, seed++, logits, labels, 'ties, NaN and inf by hand'));
  }
}
// Random rows sprinkled with NaN (some at the label) and infinities.
for (const dtype of ['f32', 'bf16'] as const) {
  const n = 97, c = 29;
  const x = uniform(n * c, seed, -3, 3);
  const ints = integers(n * c, seed + 1, -2, 2);
  for (let i = 0; i < n * c; i += 2) x[i] = ints[i]!;
  const labels = integers(n, seed + 2, 0, c - 1);
  const where = integers(3 * n, seed + 3, 0, n * c - 1);
  for (let i = 0; i < n; i++) x[where[i]!] = Number.NaN;
  for (let i = 0; i < n; i += 7) x[i * c + labels[i]!] = Number.NaN;
  for (let i = n; i < 2 * n; i++) x[where[i]!] = Infinity;
  for (let i = 2 * n; i < 3 * n; i++) x[where[i]!] = -Infinity;
  for (const k of [1, 4]) cases.push(makeCase(dtype, n, c, k, seed, x, labels, 'NaN and inf logits'));
  seed += 4;
}

const topkAccuracy: KernelCases = { kernel: 'topk_accuracy', cases };
export default topkAccuracy;
