import { f, kernel } from './declare';
import { AXIS, RANKS_RULE } from './mesh-fields';

export default kernel({
  name: 'axis_slice',
  fn: 'axisSlice',
  struct: 'AxisSliceArgs',
  doc: `This device's block of a replicated tensor, by its coordinate on mesh axis \`axis\` (known only
when the kernel runs, so one SPMD plan serves every device): run i copies \`cols\` elements from
x + i * xStride + axisRank * cols to y + i * yStride (x viewed as [batch, ranks * cols] rows xStride
apart). No communication. \`ranks\` must be the size of that axis of the device's mesh (1 without a
mesh: axis rank 0).`,
  fields: {
    axis: AXIS,
    ranks: f.count('devices on the axis (checked against the mesh when it runs)'),
    dtype: f.dtype(['f32', 'bf16', 'i32']),
    batch: f.count('runs'),
    cols: f.count('elements of each run taken by one rank'),
    xStride: f.count('elements between runs of x'),
    yStride: f.count('elements between runs of y'),
    x: f.input('dtype', 'runs(batch, cols * ranks, xStride)', 'run i at x + i * xStride: ranks blocks of cols'),
    y: f.output('dtype', 'runs(batch, cols, yStride)', 'run i at y + i * yStride'),
  },
  checks: [
    RANKS_RULE,
    {
      holds: 'batch <= 1 || cols == 0 || yStride >= cols',
      message: 'runs of y would overlap each other',
      expected: 'yStride >= cols (${cols})',
      received: '${yStride}',
      example: (s) => (s.cols > 1 ? { batch: 2, yStride: s.cols - 1 } : undefined),
    },
  ],
});
