// Runs GEMM cases in a fresh process, so a test can set VIT22B_NUM_THREADS / VIT22B_CPU_ISA (read
// when the thread pool starts and per call) without touching the jest process. Loads the built
// package (dist/). stdin: JSON [{ spec, a, b, c, bias? }] with operands as base64 bytes;
// stdout: JSON { outputs: [base64 of C] } or { error: { code, message } }.
'use strict';
const path = require('node:path');
const { openDevice } = require(path.join(__dirname, '..', '..', 'dist', 'index.js'));

function main() {
  const jobs = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
  const device = openDevice({ device: 'cpu' });
  const outputs = [];
  try {
    for (const job of jobs) {
      const buffers = {};
      for (const name of ['a', 'b', 'c', 'bias']) {
        if (job[name] === undefined) continue;
        const bytes = Buffer.from(job[name], 'base64');
        buffers[name] = device.native.alloc(bytes.length);
        buffers[name].upload(bytes);
      }
      device.native.launch('gemm', { ...job.spec, ...buffers });
      const out = Buffer.alloc(buffers.c.bytes);
      buffers.c.download(out);
      outputs.push(out.toString('base64'));
      for (const b of Object.values(buffers)) b.dispose();
    }
    process.stdout.write(JSON.stringify({ outputs }));
  } catch (e) {
    process.stdout.write(JSON.stringify({ error: { code: e.code, message: e.message } }));
  } finally {
    device.dispose();
  }
}

main();
