import { f, kernel } from './declare';

export default kernel({
  name: 'strided_copy',
  fn: 'stridedCopy',
  struct: 'StridedCopyArgs',
  doc: `Copies \`batch\` runs of \`cols\` contiguous elements: run i goes from x + i * xStride to
y + i * yStride (strides in elements). Slices and concatenations along any axis, and broadcasts
(xStride 0), are all this one pattern: a tensor viewed as [outer, axis * inner] is cut or joined
along its second dimension. Runs of y must not overlap each other or x.`,
  fields: {
    dtype: f.dtype(['f32', 'bf16', 'i32']),
    batch: f.count(),
    cols: f.count(),
    xStride: f.count(),
    yStride: f.count(),
    x: f.input('dtype', 'runs(batch, cols, xStride)', 'run i at x + i * xStride'),
    y: f.output('dtype', 'runs(batch, cols, yStride)', 'run i at y + i * yStride'),
  },
  checks: [
    {
      holds: 'batch <= 1 || cols == 0 || yStride >= cols',
      message: 'runs of y would overlap each other',
      expected: 'yStride >= cols (${cols})',
      received: '${yStride}',
      example: (s) => (s.cols > 1 ? { batch: 2, yStride: s.cols - 1 } : undefined),
    },
  ],
});
