import { f, FINITE, kernel } from './declare';

export default kernel({
  name: 'random_init',
  fn: 'randomInit',
  struct: 'RandomInitArgs',
  doc: `Fills n elements with values that depend only on (seed, offset, start + i): element g of a stream
is word g % 4 of philox(counter = [lo(g/4), hi(g/4), lo(offset), hi(offset)], key = [lo(seed),
hi(seed)]), turned into a value by a fixed formula (native/core/random_dist.h) that the CUDA backend
shares bit for bit. \`start\` lets a shard generate its slice of a tensor. seed, offset and start are
numbers or BigInts below 2^64.`,
  fields: {
    dtype: f.dtype(['f32', 'bf16']),
    dist: f.enum('InitDistribution', ['constant', 'uniform', 'normal', 'truncated_normal']),
    seed: f.u64(),
    offset: f.u64(),
    start: f.u64(),
    n: f.count(),
    a: f.number(FINITE, 'constant value, uniform low bound, or mean'),
    b: f.numberOr(undefined, 1, 'uniform high bound, or std (not read for constant)'),
    out: f.output('dtype', 'n', '[n]'),
  },
  checks: [
    { holds: 'startPlusFits(start, n)', message: 'start + n must not exceed 2^64', expected: 'start + n <= 2^64', received: '${start} + ${n}', example: () => ({ start: 2n ** 64n - 1n, n: 2 }) },
    { when: "!is(dist, 'constant')", holds: 'finiteF32(b)', message: 'b is out of range', expected: 'a finite f32', received: '${b}', example: () => ({ dist: 'normal', b: 1e39 }) },
    { when: "is(dist, 'uniform')", holds: 'a < b', message: 'uniform needs a < b', expected: 'b > ${a}', received: '${b}', example: () => ({ dist: 'uniform', a: 1, b: 0 }) },
    { when: "is(dist, 'normal') || is(dist, 'truncated_normal')", holds: 'b >= 0.0', message: 'b is out of range', expected: 'a std >= 0', received: '${b}', example: () => ({ dist: 'normal', b: -1 }) },
  ],
});

