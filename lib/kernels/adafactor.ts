import { f, kernel } from './declare';

export default kernel({
  name: 'adafactor',
  fn: 'adafactor',
  struct: 'AdafactorArgs',
  doc: `One step of Adafactor as used by big_vision for ViT-G / ViT-e / ViT-22B (optax's
scale_by_factored_rms, then optional block-RMS clipping, then momentum, then lr and decay). The full
formula is written out in native/cpu/adafactor.cc. The parameter is viewed as a matrix [rows, cols]
(a vector as [1, n]); \`factored\` keeps row/column statistics vr/vc instead of a full v (big_vision
factors when both dims >= 32; the caller decides).

Sharded (factored only): a device holding a column shard [rows, cols of totalCols] or a row shard
[rows of totalRows, cols] cannot compute the global statistics alone. The caller runs
adafactor_stats on each shard, all-reduces its outputs over the shards, and passes them here:
rowSums [rows] (sums over ALL totalCols columns of s = (gradScale g)^2 + eps) and colSums [cols]
(sums over ALL totalRows rows of s) replace the kernel's own sums, and vrSum [1] (the sum over ALL
totalRows rows of the updated vr) replaces its own sum of vr in mean(vr) = vrSum / totalRows. A
column shard needs rowSums (its vr is then the whole, replicated vr, so no vrSum); a row shard needs
colSums and vrSum. With none given the step is exactly the unsharded one, bit for bit.
clipThreshold > 0 is refused with any of them (the update rms would need a global sum too).`,
  fields: {
    gradType: f.dtype(['f32', 'bf16']),
    momentumType: f.dtype(['f32', 'bf16'], 'bf16 (the recipe) | f32'),
    rows: f.count(),
    cols: f.count(),
    factored: f.bool(),
    param: f.inout('f32', 'rows * cols', '[rows, cols] f32'),
    grad: f.input('gradType', 'rows * cols', '[rows, cols] of gradType'),
    vr: f.maybe('inout', 'f32', 'rows', '[rows] f32, factored only', { requiredWhen: 'factored' }),
    vc: f.maybe('inout', 'f32', 'cols', '[cols] f32, factored only', { requiredWhen: 'factored' }),
    v: f.maybe('inout', 'f32', 'rows * cols', '[rows, cols] f32, unfactored only', { requiredWhen: '!factored' }),
    momentum: f.inout('momentumType', 'rows * cols', '[rows, cols] of momentumType'),
    lr: f.dynamic('f32', { lo: 0, hi: 1e30 }, "the schedule's learning rate at this step"),
    lrMult: f.number({ lo: 0, hi: 1e30 }, "this parameter's learning-rate multiplier", 1),
    weightDecay: f.dynamic('f32', { lo: 0, hi: 1e30 }, 'decoupled, scaled by lr (not by lrMult)'),
    beta1: f.number({ lo: 0, hi: 1, hiOpen: true }, 'momentum decay (no debiasing)', 0.9),
    decay: f.dynamic('f32', { lo: 0, hi: 1, hiOpen: true }, 'beta2_t = min(0.999, 1 - t^-0.8), computed by the caller'),
    // eps > 0 keeps 1/sqrt(v) finite for all-zero gradient rows; below FLT_MIN it would flush.
    eps: f.number({ lo: 1.1754943508222875e-38, hi: 1e30 }, 'epsilon1, added to grad^2', 1e-30),
    gradScale: f.dynamic('f32', { lo: 0, hi: 1e30 }, 'the global-norm clip factor, or 1', 1),
    clipThreshold: f.number({ lo: 0, hi: 1e30 }, 'block-RMS update clipping; 0 = off (the recipe)'),
    rowSums: f.maybe('in', 'f32', 'rows', '[rows] f32, factored only: sum_j s[i, j] over the global row (all totalCols columns); absent = the kernel sums its own columns'),
    colSums: f.maybe('in', 'f32', 'cols', '[cols] f32, factored only: sum_i s[i, j] over the global column (all totalRows rows); absent = the kernel sums its own rows'),
    vrSum: f.maybe('in', 'f32', '1', '[1] f32, factored only: sum of the updated vr over all totalRows rows; absent = the kernel sums its own updated vr'),
    totalRows: f.countOr(0, 'rows of the global matrix (vc and mean(vr) divide by it); 0 = rows'),
    totalCols: f.countOr(0, 'columns of the global matrix (vr divides by it); 0 = cols'),
  },
  checks: [
    { when: 'factored', holds: '!has(v)', message: 'v must be absent when factored (the second moment is vr and vc)', expected: 'no v', received: 'a v buffer', example: (s) => (s.factored ? { v: s.param } : undefined) },
    { when: '!factored', holds: '!has(vr)', message: 'vr must be absent when not factored (the second moment is v)', expected: 'no vr', received: 'a vr buffer', example: (s) => (s.factored ? undefined : { vr: s.param }) },
    { when: '!factored', holds: '!has(vc)', message: 'vc must be absent when not factored (the second moment is v)', expected: 'no vc', received: 'a vc buffer', example: (s) => (s.factored ? undefined : { vc: s.param }) },
    {
      when: '!factored',
      holds: '!(has(rowSums) || has(colSums) || has(vrSum) || has(totalRows) || has(totalCols))',
      message: 'rowSums, colSums, vrSum, totalRows and totalCols are for factored parameters only (sharded statistics)',
      expected: 'none of them',
      received: 'a sharded statistic',
      example: (s) => (s.factored ? undefined : { totalRows: s.rows }),
    },
    {
      when: 'has(rowSums) || has(colSums) || has(vrSum) || has(totalRows) || has(totalCols)',
      holds: 'clipThreshold <= 0.0',
      message: 'clipThreshold must be 0 with sharded statistics (block-RMS clipping needs the update rms of the global matrix)',
      expected: 'clipThreshold 0',
      received: '${clipThreshold}',
      example: (s) => (s.factored ? { totalRows: s.rows, clipThreshold: 1 } : undefined),
    },
    {
      holds: 'totalRows == 0 || totalRows >= rows',
      code: 'ShapeMismatch',
      message: 'totalRows (the global rows) must be at least rows (this shard\'s)',
      expected: '>= ${rows}',
      received: '${totalRows}',
      example: (s) => (s.factored && s.rows > 1 ? { totalRows: s.rows - 1 } : undefined),
    },
    {
      holds: 'totalCols == 0 || totalCols >= cols',
      code: 'ShapeMismatch',
      message: 'totalCols (the global columns) must be at least cols (this shard\'s)',
      expected: '>= ${cols}',
      received: '${totalCols}',
      example: (s) => (s.factored && s.cols > 1 ? { totalCols: s.cols - 1 } : undefined),
    },
    {
      holds: 'has(rowSums) || totalCols == 0 || totalCols == cols',
      message: 'rowSums is required when totalCols > cols (the kernel sees only its own columns)',
      expected: 'rowSums [${rows}] f32',
      received: 'totalCols ${totalCols}, cols ${cols}, no rowSums',
      example: (s) => (s.factored ? { totalCols: s.cols + 1 } : undefined),
    },
    {
      holds: 'has(colSums) || totalRows == 0 || totalRows == rows',
      message: 'colSums is required when totalRows > rows (the kernel sees only its own rows)',
      expected: 'colSums [${cols}] f32',
      received: 'totalRows ${totalRows}, rows ${rows}, no colSums',
      example: (s) => (s.factored ? { totalRows: s.rows + 1 } : undefined),
    },
    {
      holds: 'has(vrSum) || totalRows == 0 || totalRows == rows',
      message: 'vrSum is required when totalRows > rows (mean(vr) is over every global row)',
      expected: 'vrSum [1] f32',
      received: 'totalRows ${totalRows}, rows ${rows}, no vrSum',
      example: (s) => (s.factored ? { totalRows: s.rows + 1, colSums: s.vc } : undefined),
    },
  ],
});
