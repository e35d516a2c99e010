import { f, kernel } from './declare';
import { AXIS, RANKS_RULE } from './mesh-fields';

export default kernel({
  name: 'all_gather',
  fn: 'allGather',
  struct: 'AllGatherArgs',
  doc: `All-gather over mesh axis \`axis\` of \`ranks\` devices (ncclAllGather's layout): every rank's
\`count\` elements of x land in y at y + j * count for axis rank j, on every rank. Pure data movement.
\`ranks\` must be the size of that axis of the device's mesh (1 without a mesh: a copy).`,
  fields: {
    axis: AXIS,
    ranks: f.count('devices on the axis (the communicator size, checked when it runs)'),
    dtype: f.dtype(['f32', 'bf16']),
    count: f.count('elements each rank contributes'),
    x: f.input('dtype', 'count', "[count] this rank's part"),
    y: f.output('dtype', 'count * ranks', "[ranks, count] every rank's part, in axis rank order"),
  },
  checks: [RANKS_RULE],
});
