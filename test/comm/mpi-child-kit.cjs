// What the mpirun children of test/comm share.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

/** Writes this rank's result as $VIT22B_TEST_OUT/rank<r>.json (mpirun interleaves long stdout lines of several processes). */
function report(json) {
  const rank = JSON.parse(json).rank;
  fs.writeFileSync(path.join(process.env.VIT22B_TEST_OUT, `rank${rank}.json`), json);
}

module.exports = { report };
