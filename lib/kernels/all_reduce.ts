import { f, FINITE, kernel } from './declare';
import { AXIS, RANKS_RULE } from './mesh-fields';

export default kernel({
  name: 'all_reduce',
  fn: 'allReduce',
  struct: 'AllReduceArgs',
  doc: `All-reduce (sum) over mesh axis \`axis\` of \`ranks\` devices: y = scale * sum over j of x_j on
every rank. The sum is accumulated in f32 in axis rank order 0 .. ranks-1, then multiplied by scale
once and rounded once to dtype (scale 1/ranks gives a mean). y may be x itself. \`ranks\` must be the
size of that axis of the device's mesh (1 without a mesh: y = scale * x).`,
  fields: {
    axis: AXIS,
    ranks: f.count('devices on the axis (the communicator size, checked when it runs)'),
    dtype: f.dtype(['f32', 'bf16']),
    count: f.count('elements on each rank'),
    scale: f.numberOr(FINITE, 1, 'multiplies the sum'),
    x: f.input('dtype', 'count', "[count] this rank's term"),
    y: f.output('dtype', 'count', '[count] the scaled sum, the same on every rank'),
  },
  checks: [RANKS_RULE],
  // In place (y identical to x) is NCCL's and MPI's in-place all-reduce; the communicator reads every
  // rank's x before any rank writes its y.
  aliases: [{ output: 'y', inPlace: [{ input: 'x', expected: 'y identical to x or disjoint from it' }] }],
});
