import { f, kernel, type Check, type Field } from './declare';

/** The column range and row strides gelu_fwd and gelu_bwd share. */
export const geluRangeChecks: Check[] = [
  {
    holds: 'colBegin <= colEnd && colEnd <= cols',
    message: 'column range is out of bounds',
    expected: '0 <= colBegin <= colEnd <= ${cols}',
    received: '[${colBegin}, ${colEnd})',
    example: () => ({ colBegin: 1, colEnd: 0 }),
  },
];

/** The fields gelu_fwd and gelu_bwd share, before their operands. */
export const geluShape = {
  dtype: f.dtype(['f32', 'bf16'], 'every [rows, cols] operand'),
  form: f.enum('GeluForm', ['tanh', 'erf']),
  rows: f.count(),
  cols: f.count(),
  colBegin: f.count('0 <= colBegin <= colEnd <= cols'),
  colEnd: f.count(),
} satisfies Record<string, Field>;

/** The optional bias over the column range, and its storage (required with it). */
export const geluBias = {
  biasType: f.dtypeOr(['f32', 'bf16'], 'f32'),
  bias: f.maybe('in', 'biasType', 'colEnd - colBegin', '[colEnd - colBegin] of biasType, or nullptr (no bias)'),
} satisfies Record<string, Field>;

export const geluBiasCheck: Check = { holds: '!has(bias) || has(biasType)', message: 'bias needs a biasType', expected: "biasType 'f32' or 'bf16'", received: 'undefined', example: (s) => ({ bias: s.x, biasType: undefined }) };

export function strideCheck(name: string): Check {
  return {
    holds: `${name} == 0 || ${name} >= cols`,
    message: `${name} must be 0 (dense) or at least cols`,
    expected: '0 or >= ${cols}',
    received: `\${${name}}`,
    example: (s) => (s.cols > 1 ? { [name]: s.cols - 1 } : undefined),
  };
}

export default kernel({
  name: 'gelu_fwd',
  fn: 'geluFwd',
  struct: 'GeluFwdArgs',
  doc: `y[:, c] = gelu(x[:, c]) for c in [colBegin, colEnd), y[:, c] = x[:, c] elsewhere, on a row-major
[rows, cols] matrix. The full range [0, cols) is the plain elementwise GELU; a sub-range is the fused
QKV + MLP-in projection's output, whose MLP part alone goes through GELU. Rows may be strided, so x
and y can be column windows of wider matrices (the fused [B*T, 3D + F] projection output): row r of
x starts at x + r * xStride, of y at y + r * yStride (elements; 0 means cols, i.e. dense). Elements
between rows are never touched. With a bias, inside the range y[r, c] = gelu(x[r, c] + bias[c -
colBegin]): the add in f32, y rounded once; outside the range y = x as without bias. y may be x
(in place: the same start and equal effective strides).`,
  fields: {
    ...geluShape,
    xStride: f.countOr(0, 'elements between row starts of x; 0 = cols (dense)'),
    yStride: f.countOr(0, 'elements between row starts of y; 0 = cols (dense)'),
    x: f.input('dtype', 'stridedRows(rows, cols, xStride)', '[rows, cols], rows xStride apart'),
    y: f.output('dtype', 'stridedRows(rows, cols, yStride)', '[rows, cols], rows yStride apart'),
    ...geluBias,
  },
  checks: [
    ...geluRangeChecks,
    strideCheck('xStride'),
    strideCheck('yStride'),
    geluBiasCheck,
  ],
  aliases: [
    {
      output: 'y',
      inPlace: [{ input: 'x', same: 'effectiveStride(xStride, cols) == effectiveStride(yStride, cols)', expected: 'distinct, or the same start and stride', note: ', strides ${effectiveStride(yStride, cols)}/${effectiveStride(xStride, cols)}' }],
    },
  ],
});
