import { f, kernel } from './declare';

export default kernel({
  name: 'norm_apply',
  fn: 'normApply',
  struct: 'NormApplyArgs',
  doc: `LayerNorm / RMSNorm of this device's columns of rows whose statistics are global: from the
moments of whole rows of \`total\` columns (row_moments summed over the slices), in f32:
  center:  mu = S1 / total, var = max(S2 / total - mu^2, 0)    (LayerNorm)
  !center: mu = 0,          var = S2 / total                    (RMSNorm)
  rstd = 1 / sqrt(var + eps);  y = (x - mu) * rstd * scale (+ bias)
with eps, scale and bias as layer_norm_fwd (scale/bias are this slice's [dim] columns); y rounded
once. The variance comes from raw moments, not from a second centred pass (that would cost a second
all-reduce): it loses precision when |mean| >> std. Rows are independent: results do not depend on
the thread count.`,
  fields: {
    dtype: f.dtype(['f32', 'bf16'], 'x and y'),
    paramType: f.dtype(['f32', 'bf16'], 'scale and bias'),
    rows: f.count(),
    dim: f.count('columns of this slice'),
    total: f.count('columns of the whole rows (>= dim)'),
    eps: f.number(undefined, '> 0 and finite in f32', 1e-6),
    center: f.bool(undefined, true),
    x: f.input('dtype', 'rows * dim', '[rows, dim]'),
    stats: f.input('f32', 'rows * 2', '[rows, 2] f32: global (sum, sum of squares)'),
    scale: f.input('paramType', 'dim', '[dim]'),
    bias: f.maybe('in', 'paramType', 'dim', '[dim], or nullptr for none'),
    y: f.output('dtype', 'rows * dim', '[rows, dim]'),
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
