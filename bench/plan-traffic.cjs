// The memory traffic of a training step's elementwise kernels (everything but GEMMs, attention and
// the optimizer), estimated at compile time from each kernel's spec, so no device is needed: bytes
// read plus bytes written per launch, summed by kernel. bench/NOTES.md compares compiler versions
// with it (the ViT-22B-width stack the GPU benchmark runs).
//   node bench/plan-traffic.cjs [depth=4] [batch=128] [off]     ('off': without windows)
//   DIST=/path/to/dist node bench/plan-traffic.cjs ...          (another build, e.g. an older commit)
const path = require('path');
const v = require(path.resolve(process.env.DIST ?? path.join(__dirname, '..', 'dist'), 'index.js'));
const depth = Number(process.argv[2] ?? 4), batch = Number(process.argv[3] ?? 128);
const config = v.getPreset('vit-22b/14', { depth });
const b = new v.GraphBuilder({ precision: 'bf16-mixed' });
v.vitModel(config)(b, { images: [batch, 224, 224, 3], labels: [batch] });
const c = v.compileGraph(b.graph, { train: { loss: 'loss', optimizer: { kind: 'adamw' }, clipNorm: 1 }, remat: 'none', windows: process.argv[4] !== 'off' });
const el = (t) => (t === 'bf16' ? 2 : 4);
const bytes = (k, s) => {
  switch (k) {
    case 'strided_copy': return 2 * s.batch * s.cols * el(s.dtype);
    case 'cast': return s.n * (el(s.from) + el(s.to));
    case 'axpby': return (s.beta === 0 ? 2 : 3) * s.n * el(s.dtype);
    case 'pos_embed_add': return 2 * s.b * s.t * s.d * el(s.dtype);
    case 'pos_embed_bwd': return s.b * s.t * s.d * el(s.dtype);
    case 'gelu_fwd': return 2 * s.rows * (s.colEnd - s.colBegin) * el(s.dtype);
    case 'gelu_bwd': return 3 * s.rows * (s.colEnd - s.colBegin) * el(s.dtype);
    case 'layer_norm_fwd': return 2 * s.rows * s.dim * el(s.dtype);
    case 'layer_norm_bwd': return (s.dresidual ? 4 : 3) * s.rows * s.dim * el(s.dtype);
    case 'random_init': return s.n * el(s.dtype);
    default: return 0;
  }
};
const per = {};
let total = 0, launches = 0;
for (const ins of c.lowered.plan.streams[0]) {
  const n = bytes(ins.kernel, ins.spec);
  launches++;
  if (!n) continue;
  per[ins.kernel] = (per[ins.kernel] ?? 0) + n;
  total += n;
}
const gb = (x) => (x / 1e9).toFixed(2);
console.log(JSON.stringify({ depth, batch, launches, elementwiseGB: gb(total), perKernelGB: Object.fromEntries(Object.entries(per).map(([k, x]) => [k, gb(x)])), fusion: c.fusion, windows: c.windows?.report }));
