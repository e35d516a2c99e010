import { f, kernel } from './declare';

export default kernel({
  name: 'adafactor_stats',
  fn: 'adafactorStats',
  struct: 'AdafactorStatsArgs',
  doc: `The partial statistics of a factored Adafactor step (lib/kernels/adafactor.ts) over one shard
[rows, cols] of a sharded parameter, to be all-reduced (summed) over the shards and passed to
adafactor as rowSums, colSums and vrSum. With s = (gradScale grad)^2 + eps (f32, as adafactor):
  rowSums[i] = sum_j s[i, j]    over this shard's columns
  colSums[j] = sum_i s[i, j]    over this shard's rows
  vrSum[0]   = sum_i (decay vr[i] + (1 - decay) rowSums[i] / totalCols)   (optional; double, then f32)
vrSum is the shard's part of the sum of the UPDATED vr, which mean(vr) needs: only meaningful when
this shard holds complete rows (a row shard, cols == totalCols), where its rowSums are already the
global ones; a column shard has every row of vr and needs no vrSum. vr is only read, never written.
Row sums are adafactor's own (eight f32 lanes per row), column sums are f32 in row order per
64-row block, then the blocks in order, so the results do not depend on the thread count.`,
  fields: {
    gradType: f.dtype(['f32', 'bf16']),
    rows: f.count('rows of this shard'),
    cols: f.count('columns of this shard'),
    grad: f.input('gradType', 'rows * cols', '[rows, cols] of gradType'),
    eps: f.number({ lo: 1.1754943508222875e-38, hi: 1e30 }, 'epsilon1, added to grad^2 (as adafactor)', 1e-30),
    gradScale: f.dynamic('f32', { lo: 0, hi: 1e30 }, 'the global-norm clip factor, or 1 (as adafactor)', 1),
    rowSums: f.output('f32', 'rows', '[rows] f32'),
    colSums: f.output('f32', 'cols', '[cols] f32'),
    vr: f.maybe('in', 'f32', 'rows', '[rows] f32, the second-moment rows before this step; with vrSum only'),
    decay: f.dynamic('f32', { lo: 0, hi: 1, hiOpen: true }, "adafactor's decay at this step (read for vrSum only)"),
    totalCols: f.countOr(0, 'columns of the global matrix (the row mean divides by it); 0 = cols'),
    vrSum: f.maybe('out', 'f32', '1', '[1] f32, optional: this shard\'s sum of the updated vr'),
  },
  checks: [
    {
      when: 'has(vrSum)',
      holds: 'has(vr)',
      message: 'vrSum needs vr (the sum is of the updated vr)',
      expected: 'vr [${rows}] f32',
      received: 'no vr',
      example: (s) => (s.vrSum ? { vr: undefined } : undefined),
    },
    {
      when: 'has(vr)',
      holds: 'has(vrSum)',
      message: 'vr is only read for vrSum',
      expected: 'vrSum [1] f32 with vr',
      received: 'vr without vrSum',
      example: (s) => (s.vrSum ? { vrSum: undefined } : undefined),
    },
    {
      holds: 'totalCols == 0 || totalCols >= cols',
      code: 'ShapeMismatch',
      message: 'totalCols (the global columns) must be at least cols (this shard\'s)',
      expected: '>= ${cols}',
      received: '${totalCols}',
      example: (s) => (s.cols > 1 ? { totalCols: s.cols - 1 } : undefined),
    },
  ],
});
