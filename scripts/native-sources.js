#!/usr/bin/env node
// Lists native sources for binding.gyp (gyp has no globs; it expands `<!@(node scripts/native-sources.js <set>)`).
//   base      core/*.cc, cpu/*.cc, exec/*.cc, comm/*.cc, addon/*.cc and generated/*.cc (scripts/gen-kernels.mjs),
//             except the ISA-specific files
//   avx2 | avx512 | avx512_bf16   native/cpu/*_<isa>.cc: the only files compiled with wider ISA
//             flags, each set a static library of its own (node-gyp cannot set flags per file)
// A new kernel therefore needs no edit here: name the file after the op, and an ISA-specific
// variant <op>_<isa>.cc. CMakeLists.txt applies the same rule with file(GLOB).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const ISAS = ['avx512_bf16', 'avx512', 'avx2']; // longest suffix first: _avx512_bf16 also ends in ...

function isaOf(file) {
  return ISAS.find((isa) => file.endsWith(`_${isa}.cc`));
}

function list(dir) {
  return fs
    .readdirSync(path.join(root, 'native', dir))
    .filter((f) => f.endsWith('.cc'))
    .sort()
    .map((f) => `native/${dir}/${f}`);
}

const set = process.argv[2];
let files;
if (set === 'base') {
  files = [...list('core'), ...list('cpu').filter((f) => !isaOf(f)), ...list('exec'), ...list('comm'), ...list('addon'), ...list('generated')];
} else if (ISAS.includes(set)) {
  files = list('cpu').filter((f) => isaOf(f) === set);
} else {
  console.error(`native-sources.js: unknown set '${set}' (base | ${ISAS.join(' | ')})`);
  process.exit(1);
}
console.log(files.join(' '));
