// Runs kernel launches in a fresh process, so a test can set VIT22B_NUM_THREADS (read when the
// thread pool starts) without touching the jest process. Loads the built package (dist/).
// stdin: JSON [{ kernel, spec, buffers: { name: base64 bytes } }]; every named buffer is uploaded,
// passed in the spec under its name, and downloaded after the launch.
// stdout: JSON { outputs: [{ name: base64 bytes }] } or { error: { code, message } }.
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
      for (const [name, b64] of Object.entries(job.buffers)) {
        const bytes = Buffer.from(b64, 'base64');
        buffers[name] = device.native.alloc(bytes.length);
        buffers[name].upload(bytes);
      }
      device.native.launch(job.kernel, { ...job.spec, ...buffers });
      const out = {};
      for (const [name, buf] of Object.entries(buffers)) {
        const bytes = Buffer.alloc(buf.bytes);
        buf.download(bytes);
        out[name] = bytes.toString('base64');
        buf.dispose();
      }
      outputs.push(out);
    }
    process.stdout.write(JSON.stringify({ outputs }));
  } catch (e) {
    process.stdout.write(JSON.stringify({ error: { code: e.code, message: e.message } }));
  } finally {
    device.dispose();
  }
}

main();
