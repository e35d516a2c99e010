// Runs kernel launches in a fresh process, so a test can set VIT22B_NUM_THREADS / VIT22B_CPU_ISA
// (read when the thread pool starts and per call) without touching the jest process. Loads the
// built package (dist/).
// stdin: JSON [{ kernel, spec, buffers: { name: base64 }, lists?: { name: [buffer names] },
// outputs?: [buffer names] }]: each buffer is allocated and uploaded, then spec[name] is set to it
// (and spec[list] to the array of them).
// stdout: JSON { outputs: [...] } with, per job, the base64 of each buffer named in `outputs` (an
// array), or, when a job names no outputs, every buffer as { name: base64 }; or { error: { code, message } }.
'use strict';
const path = require('node:path');
const { openDevice } = require(path.join(__dirname, '..', '..', 'dist', 'index.js'));

function read(buffer) {
  const out = Buffer.alloc(buffer.bytes);
  buffer.download(out);
  return out.toString('base64');
}

function main() {
  const jobs = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
  const device = openDevice({ device: 'cpu' });
  const outputs = [];
  try {
    for (const job of jobs) {
      const buffers = {};
      for (const [name, data] of Object.entries(job.buffers)) {
        const bytes = Buffer.from(data, 'base64');
        buffers[name] = device.native.alloc(bytes.length);
        buffers[name].upload(bytes);
      }
      const spec = { ...job.spec, ...buffers };
      for (const [name, list] of Object.entries(job.lists ?? {})) spec[name] = list.map((b) => buffers[b]);
      device.native.launch(job.kernel, spec);
      if (job.outputs) {
        outputs.push(job.outputs.map((name) => read(buffers[name])));
      } else {
        outputs.push(Object.fromEntries(Object.entries(buffers).map(([name, b]) => [name, read(b)])));
      }
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
