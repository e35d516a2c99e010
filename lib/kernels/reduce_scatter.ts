import { f, kernel } from './declare';
import { AXIS, RANKS_RULE } from './mesh-fields';

export default kernel({
  name: 'reduce_scatter',
  fn: 'reduceScatter',
  struct: 'ReduceScatterArgs',
  doc: `Reduce-scatter (sum) over mesh axis \`axis\` of \`ranks\` devices (ncclReduceScatter's layout):
on axis rank r, y = sum over j of x_j[r * count, (r + 1) * count). Accumulated in f32 in axis rank
order 0 .. ranks-1 and rounded once to dtype, so a fixed mesh gives the same bits on every run and any
thread count. \`ranks\` must be the size of that axis of the device's mesh (1 without a mesh: a copy).`,
  fields: {
    axis: AXIS,
    ranks: f.count('devices on the axis (the communicator size, checked when it runs)'),
    dtype: f.dtype(['f32', 'bf16']),
    count: f.count('elements of the result on each rank'),
    x: f.input('dtype', 'count * ranks', "[ranks, count] this rank's contribution to every block"),
    y: f.output('dtype', 'count', "[count] the sum of block r (this rank's axis rank)"),
  },
  checks: [RANKS_RULE],
});
