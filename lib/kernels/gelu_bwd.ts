import { f, kernel } from './declare';
import { geluBias, geluBiasCheck, geluRangeChecks, geluShape, strideCheck } from './gelu_fwd';

export default kernel({
  name: 'gelu_bwd',
  fn: 'geluBwd',
  struct: 'GeluBwdArgs',
  doc: `dx = dy * gelu'(x [+ bias]) inside the column range, dx = dy outside it. Strides and bias as in
GeluFwdArgs: inside the range dx[r, c] = dy[r, c] * gelu'(x[r, c] + bias[c - colBegin]) (the add in
f32). dx may be dy (the same start, equal effective strides); dx may not be x (no caller needs it,
and forbidding it leaves the GPU kernel free to read x ahead of writing dx).`,
  fields: {
    ...geluShape,
    xStride: f.countOr(0, 'elements; 0 = cols (dense)'),
    dyStride: f.countOr(0),
    dxStride: f.countOr(0),
    x: f.input('dtype', 'stridedRows(rows, cols, xStride)', '[rows, cols], rows xStride apart'),
    dy: f.input('dtype', 'stridedRows(rows, cols, dyStride)', '[rows, cols], rows dyStride apart'),
    dx: f.output('dtype', 'stridedRows(rows, cols, dxStride)', '[rows, cols], rows dxStride apart'),
    ...geluBias,
  },
  checks: [
    ...geluRangeChecks,
    strideCheck('xStride'),
    strideCheck('dyStride'),
    strideCheck('dxStride'),
    geluBiasCheck,
  ],
  aliases: [
    {
      output: 'dx',
      inPlace: [{ input: 'dy', same: 'effectiveStride(dyStride, cols) == effectiveStride(dxStride, cols)', expected: 'distinct, or the same start and stride', note: ', strides ${effectiveStride(dxStride, cols)}/${effectiveStride(dyStride, cols)}' }],
    },
  ],
});
