import { f, kernel, type Check } from './declare';

/** A RowLayout is valid for [rows, dim]: groupRows divides rows, and groups never overlap. */
export function layoutChecks(name: string): Check[] {
  return [
    {
      holds: `${name}.groupRows == 0 || rows % ${name}.groupRows == 0`,
      message: `${name}.groupRows must divide rows (\${rows})`,
      expected: 'groupRows dividing ${rows}',
      received: `\${${name}.groupRows}`,
      example: (s) => (s.rows > 0 ? { [name]: { groupRows: s.rows + 1, groupStride: (s.rows + 1) * s.dim } } : undefined),
    },
    {
      holds: `${name}.groupRows == 0 || ${name}.groupStride >= ${name}.groupRows * dim`,
      message: `${name}.groupStride must be at least groupRows * dim (groups may not overlap)`,
      expected: `>= \${${name}.groupRows} * \${dim}`,
      received: `\${${name}.groupStride}`,
      example: (s) => (s.rows > 0 && s.dim > 0 ? { [name]: { groupRows: 1, groupStride: s.dim - 1 } } : undefined),
    },
  ];
}

export default kernel({
  name: 'layer_norm_fwd',
  fn: 'layerNormFwd',
  struct: 'LayerNormFwdArgs',
  doc: `Normalization of each row over its last dimension (D), with a learnable scale [D]:
  center:  mu = mean(x), var = mean((x - mu)^2)    (LayerNorm)
  !center: mu = 0,       var = mean(x^2)           (RMSNorm: the ViT-22B norms, no bias)
  rstd = 1 / sqrt(var + eps);  y = (x - mu) * rstd * scale (+ bias)
The per-head QK-norm is the same kernel: x [B, T, H, Dh] is rows = B*T*H, dim = Dh, with one scale
[Dh] shared by every head. Statistics are computed in f32 from the storage type; y is rounded once.
Rows are independent, so results do not depend on the thread count. Layouts (RowLayout; absent =
dense) place x's and y's rows; elements between rows are untouched.`,
  fields: {
    dtype: f.dtype(['f32', 'bf16'], 'x and y'),
    paramType: f.dtype(['f32', 'bf16'], 'scale and bias'),
    rows: f.count(),
    dim: f.count(),
    eps: f.number(undefined, '> 0 and finite in f32', 1e-6),
    center: f.bool(undefined, true),
    xLayout: f.record('RowLayout', true, 'dense by default'),
    yLayout: f.record('RowLayout', true, 'dense by default'),
    x: f.input('dtype', 'layoutSpan(xLayout, rows, dim)', '[rows, dim] laid out by xLayout'),
    scale: f.input('paramType', 'dim', '[dim]'),
    bias: f.maybe('in', 'paramType', 'dim', '[dim], or nullptr for none'),
    y: f.output('dtype', 'layoutSpan(yLayout, rows, dim)', '[rows, dim] laid out by yLayout'),
    mean: f.maybe('out', 'f32', 'rows', '[rows] dense, saved for backward when center; nullptr: not saved'),
    rstd: f.maybe('out', 'f32', 'rows', '[rows] dense, saved for backward; nullptr: not saved'),
  },
  checks: [
    // Checked after the cast to f32: 1e-50 is a positive double but a zero float.
    { holds: 'positiveF32(eps)', message: 'eps must be a positive finite float', expected: 'eps > 0 and finite in f32', received: '${eps}', example: () => ({ eps: 1e-50 }) },
    ...layoutChecks('xLayout'),
    ...layoutChecks('yLayout'),
  ],
});
