import { f, kernel } from './declare';
import { AXIS, RANKS_RULE } from './mesh-fields';

export default kernel({
  name: 'collective_permute',
  fn: 'collectivePermute',
  struct: 'CollectivePermuteArgs',
  doc: `One ring step over mesh axis \`axis\` of \`ranks\` devices: axis rank r sends its x to axis rank
(r + shift) % ranks and receives into y from axis rank (r - shift) mod ranks (NCCL: grouped
send/recv). Pure data movement. \`ranks\` must be the size of that axis of the device's mesh; with
ranks 1 (no mesh) the step is a copy and shift is not checked.`,
  fields: {
    axis: AXIS,
    ranks: f.count('devices on the axis (the communicator size, checked when it runs)'),
    dtype: f.dtype(['f32', 'bf16']),
    count: f.count('elements sent and received'),
    shift: f.count('how many axis ranks onwards x goes: 1 .. ranks-1'),
    x: f.input('dtype', 'count', '[count] sent to axis rank (r + shift) % ranks'),
    y: f.output('dtype', 'count', '[count] received from axis rank (r - shift) mod ranks'),
  },
  checks: [
    RANKS_RULE,
    {
      holds: 'shift >= 1 && shift < ranks',
      when: 'ranks > 1',
      message: 'shift must be in [1, ranks-1]',
      expected: '1 .. ${ranks - 1}',
      received: '${shift}',
      example: () => ({ ranks: 2, shift: 2 }),
    },
  ],
});
