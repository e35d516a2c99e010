// Runs attention forward + backward in a fresh process, so a test can set VIT22B_NUM_THREADS /
// VIT22B_CPU_ISA without touching the jest process. Loads the built package (dist/).
// stdin: JSON [{ dims, dtype, scale, q, k, v, dO }] (dense [B, T, H, Dh] operands as base64 bytes);
// stdout: JSON { outputs: [{ o, lse, dQ, dK, dV }] as base64 } or { error: { code, message } }.
'use strict';
const path = require('node:path');
const { openDevice, attentionForward, attentionBackward } = require(path.join(__dirname, '..', '..', 'dist', 'index.js'));

function main() {
  const jobs = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
  const device = openDevice({ device: 'cpu' });
  const outputs = [];
  try {
    for (const job of jobs) {
      const { batch, heads, tq, tk, headDim } = job.dims;
      const qShape = [batch, tq, heads, headDim], kShape = [batch, tk, heads, headDim];
      const input = (name, shape) => {
        const t = device.alloc(job.dtype, shape);
        t.buffer.upload(Buffer.from(job[name], 'base64'));
        return t;
      };
      const t = { q: input('q', qShape), k: input('k', kShape), v: input('v', kShape), dO: input('dO', qShape) };
      t.o = device.alloc(job.dtype, qShape);
      t.lse = device.alloc('f32', [batch, heads, tq]);
      t.dQ = device.alloc(job.dtype, qShape);
      t.dK = device.alloc(job.dtype, kShape);
      t.dV = device.alloc(job.dtype, kShape);
      attentionForward(device, t, { scale: job.scale });
      attentionBackward(device, t, { scale: job.scale });
      const out = {};
      for (const name of ['o', 'lse', 'dQ', 'dK', 'dV']) {
        const bytes = Buffer.alloc(t[name].bytes);
        t[name].buffer.download(bytes);
        out[name] = bytes.toString('base64');
      }
      outputs.push(out);
      for (const x of Object.values(t)) x.dispose();
    }
    process.stdout.write(JSON.stringify({ outputs }));
  } catch (e) {
    process.stdout.write(JSON.stringify({ error: { code: e.code, message: e.message } }));
  } finally {
    device.dispose();
  }
}

main();
