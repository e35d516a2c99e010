import { f, kernel } from './declare';

export default kernel({
  name: 'norm_apply_bwd',
  fn: 'normApplyBwd',
  struct: 'NormApplyBwdArgs',
  doc: `Backward of norm_apply with the statistics as inputs of their own (mu, var, rstd from stats as
there; g = dy * scale, f32):
  dx = g * rstd                                   (the direct part: stats held fixed; overwritten)
  dvar = -rstd^3 / 2 * sum_j g (x - mu)
  dstats[i, 1] = dvar / total
  dstats[i, 0] = (-rstd * sum_j g - 2 mu dvar) / total   (center; 0 otherwise)
  dscale = sum_rows(dy * (x - mu) * rstd), dbias = sum_rows(dy)   (overwritten, f32)
The row sums run over this slice's columns only: dstats is this slice's part, to be summed over the
slices (the all-reduce autodiff writes for the statistics' pvary) and fed to row_moments_bwd.
dscale/dbias sum the rows in order (double), one column at a time: the same for every thread count.`,
  fields: {
    dtype: f.dtype(['f32', 'bf16'], 'x, dy and dx'),
    paramType: f.dtype(['f32', 'bf16'], 'scale'),
    rows: f.count(),
    dim: f.count('columns of this slice'),
    total: f.count('columns of the whole rows (>= dim)'),
    eps: f.number(undefined, "> 0 and finite in f32: the forward's", 1e-6),
    center: f.bool(undefined, true),
    x: f.input('dtype', 'rows * dim', '[rows, dim]'),
    stats: f.input('f32', 'rows * 2', '[rows, 2] f32: global (sum, sum of squares)'),
    scale: f.input('paramType', 'dim', '[dim]'),
    dy: f.input('dtype', 'rows * dim', '[rows, dim]'),
    dx: f.output('dtype', 'rows * dim', '[rows, dim]'),
    dstats: f.output('f32', 'rows * 2', '[rows, 2] f32: this slice\'s part'),
    dscale: f.output('f32', 'dim', '[dim] f32'),
    dbias: f.maybe('out', 'f32', 'dim', '[dim] f32, or nullptr when the forward had no bias'),
  },
  checks: [
    { holds: 'positiveF32(eps)', message: 'eps must be a positive finite float', expected: 'eps > 0 and finite in f32', received: '${eps}', example: () => ({ eps: 1e-50 }) },
    {
      holds: 'total >= dim && (rows == 0 || total > 0)',
      code: 'ShapeMismatch',
      message: 'total (the whole rows\' columns) must be at least dim (this slice\'s)',
      expected: '>= ${dim}',
      received: '${total}',
      example: (s) => (s.dim > 0 ? { total: s.dim - 1 } : undefined),
    },
  ],
});
