// A child process for collective-matmul.test.ts: VIT22B_CPU_STREAM_THREADS is read once per
// process, so serial and threaded stream execution are compared across two processes. Trains the
// test's small model for 5 steps on the mesh and overlap given in argv[2] (JSON) and prints the
// losses and a SHA-256 of every parameter and first-step gradient.
const crypto = require('node:crypto');
const path = require('node:path');
const { openDevice, compile, getPreset, vitModel } = require(path.join(__dirname, '../../dist/index.js'));

async function main() {
  const { mesh, overlap, zero } = JSON.parse(process.argv[2]);
  const device = openDevice({ device: 'cpu' });
  const config = getPreset('tiny', { imageSize: 8, patchSize: 4, channels: 3, width: 32, depth: 2, heads: 4, mlpDim: 64, numClasses: 5 });
  const p = compile(vitModel(config), { device, mesh, overlap, zero, seed: 1, inputShapes: { images: [8, 8, 8, 3], labels: [8] }, train: { loss: 'loss', optimizer: { kind: 'adamw', eps: 1e-3 }, clipNorm: 1 } });
  let s = 7;
  const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const hash = crypto.createHash('sha256');
  const losses = [];
  for (let step = 1; step <= 5; ++step) {
    const images = Float32Array.from({ length: 8 * 8 * 8 * 3 }, rand);
    const labels = Int32Array.from({ length: 8 }, (_u, i) => (i + step) % 5);
    const out = await p.run({ images, labels }, { lr: 1e-2, step });
    losses.push(out.loss[0]);
    if (step === 1) for (const n of p.parameterNames()) hash.update(Buffer.from(p.read(`grad/${n}`).buffer));
  }
  for (const n of p.parameterNames()) hash.update(Buffer.from(p.read(n).buffer));
  p.dispose();
  device.dispose();
  process.stdout.write(JSON.stringify({ losses, sha256: hash.digest('hex') }));
}
main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e));
  process.exit(1);
});
