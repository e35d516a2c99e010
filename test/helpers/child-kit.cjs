// What the child processes of the tests (plain CommonJS on dist/, no ts-jest) share: the seeded
// generator of test/helpers/prng.ts, written again here because a child cannot import TypeScript.
'use strict';

/** mulberry32: the same sequence as test/helpers/prng.ts for the same seed. */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

module.exports = { mulberry32 };
