import { f, kernel } from './declare';
import { geluRangeChecks, strideCheck } from './gelu_fwd';

export default kernel({
  name: 'gelu_bwd',
  fn: 'geluBwd',
  struct: 'GeluBwdArgs',
  doc: `dx = dy * gelu'(x [+ bias]) inside the column range, dx = dy outside it. Strides and bias as in
GeluFwdArgs: inside the range dx[r, c] = dy[r, c] * gelu'(x[r, c] + bias[c - colBegin]) (the add in
f32). dx may be dy (the same start, equal effective strides); dx may not be x (no caller needs it,
and forbidding it leaves the GPU kernel free to read x ahead of writing dx).`,
  fields: {
    dtype: f.dtype(['f32', 'bf16'], 'x, dy and dx'),
    form: f.enum('GeluForm', ['tanh', 'erf']),
    rows: f.count(),
    cols: f.count(),
    colBegin: f.count(),
    colEnd: f.count(),
    xStride: f.countOr(0, 'elements; 0 = cols (dense)'),
    dyStride: f.countOr(0),
    dxStride: f.countOr(0),
    x: f.input('dtype', 'stridedRows(rows, cols, xStride)', '[rows, cols], rows xStride apart'),
    dy: f.input('dtype', 'stridedRows(rows, cols, dyStride)', '[rows, cols], rows dyStride apart'),
    dx: f.output('dtype', 'stridedRows(rows, cols, dxStride)', '[rows, cols], rows dxStride apart'),
    biasType: f.dtypeOr(['f32', 'bf16'], 'f32'),
    bias: f.maybe('in', 'biasType', 'colEnd - colBegin', '[colEnd - colBegin] of biasType, or nullptr'),
  },
  checks: [
    ...geluRangeChecks,
    strideCheck('xStride'),
    strideCheck('dyStride'),
    strideCheck('dxStride'),
    { holds: '!has(bias) || has(biasType)', message: 'bias needs a biasType', expected: "biasType 'f32' or 'bf16'", received: 'undefined' },
  ],
  aliases: [
    {
      output: 'dx',
      inPlace: [{ input: 'dy', same: 'effectiveStride(dyStride, cols) == effectiveStride(dxStride, cols)', expected: 'distinct, or the same start and stride', note: ', strides ${effectiveStride(dxStride, cols)}/${effectiveStride(dyStride, cols)}' }],
    },
  ],
});
