import { f, kernel } from './declare';
import { layoutChecks } from './layer_norm_fwd';

export default kernel({
  name: 'layer_norm_bwd',
  fn: 'layerNormBwd',
  struct: 'LayerNormBwdArgs',
  doc: `Backward of LayerNormFwd, with xhat = (x - mean) * rstd and g = dy * scale:
  dx = rstd * (g - mean_D(g) - xhat * mean_D(g * xhat))   (center)
  dx = rstd * (g - xhat * mean_D(g * xhat))                (!center)
  dscale = sum_rows(dy * xhat), dbias = sum_rows(dy)   (overwritten, f32)
The row sums are per-block partial sums over a row blocking that depends only on \`rows\`, added in
block order: bitwise the same for every thread count. With dresidual, dx = dresidual + (the dx
above), added in f32 and rounded once: the residual branch's gradient joins the norm's in the same
pass (blocks x + f(norm(x))). dx may be dresidual itself (the same memory and layout: each element is
read before it is written); no other operand may alias an output. Layouts (RowLayout) place each
[rows, dim] operand's rows; the statistics and parameter gradients stay dense.`,
  fields: {
    dtype: f.dtype(['f32', 'bf16'], 'x, dy and dx'),
    paramType: f.dtype(['f32', 'bf16'], 'scale'),
    rows: f.count(),
    dim: f.count(),
    center: f.bool(undefined, true),
    xLayout: f.record('RowLayout', true, 'dense by default'),
    dyLayout: f.record('RowLayout', true),
    dxLayout: f.record('RowLayout', true),
    dresidualLayout: f.record('RowLayout', true),
    x: f.input('dtype', 'layoutSpan(xLayout, rows, dim)', '[rows, dim] laid out by xLayout'),
    scale: f.input('paramType', 'dim', '[dim]'),
    mean: f.maybe('in', 'f32', 'rows', '[rows] from the forward (center only; ignored otherwise)', { requiredWhen: 'center', ignoredWhen: '!center' }),
    rstd: f.input('f32', 'rows', '[rows] from the forward'),
    dy: f.input('dtype', 'layoutSpan(dyLayout, rows, dim)', '[rows, dim] laid out by dyLayout'),
    dx: f.output('dtype', 'layoutSpan(dxLayout, rows, dim)', '[rows, dim] laid out by dxLayout'),
    dscale: f.output('f32', 'dim', '[dim] f32'),
    dbias: f.maybe('out', 'f32', 'dim', '[dim] f32, or nullptr when the forward had no bias'),
    dresidual: f.maybe('in', 'dtype', 'layoutSpan(dresidualLayout, rows, dim)', 'added to dx; nullptr: none. May equal dx (then with the same layout)'),
  },
  checks: [...layoutChecks('xLayout'), ...layoutChecks('dyLayout'), ...layoutChecks('dxLayout'), ...layoutChecks('dresidualLayout')],
  aliases: [
    {
      output: 'dx',
      inPlace: [{ input: 'dresidual', same: 'sameLayout(dresidualLayout, dxLayout)', expected: 'distinct buffers, or dx == dresidual with the same layout' }],
    },
  ],
});
