// Child of test/comm/mpi-library.test.ts, one process of `mpirun -np 3`: asks for a 2 x 1 mesh over
// MPI (2 processes) and writes $VIT22B_TEST_OUT/rank<r>.json with the error it got.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vit = require(process.env.VIT22B_DIST);

const rank = Number(process.env.OMPI_COMM_WORLD_RANK);
let got;
try {
  vit.createMesh({ data: 2, model: 1 }, { comm: 'mpi' });
  got = 'created';
} catch (e) {
  got = { code: e.code, message: e.message };
}
fs.writeFileSync(path.join(process.env.VIT22B_TEST_OUT, `rank${rank}.json`), JSON.stringify({ rank, got }));
