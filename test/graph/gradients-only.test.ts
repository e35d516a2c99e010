/**
 * The optimizer kind 'none' (gradients only): a softmax regression graph whose data are persistent
 * state written once; a run fills grad/w and grad/b with the closed-form gradient of the mean
 * cross-entropy, ((softmax(xW + b) - onehot)^T x) / n, computed here in float64, reports gradNorm,
 * needs no run scalars, and leaves the parameters as they were.
 */
import { compile } from '../../lib/graph/compile';
import { GraphBuilder } from '../../lib/graph/builder';
import { openDevice, type Device } from '../../lib/runtime';
import { mulberry32 } from '../helpers/prng';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => device.dispose());

test("optimizer 'none': closed-form gradients, no update, no scalars", async () => {
  const [n, d, k] = [7, 5, 3];
  const rng = mulberry32(3);
  const x = Float32Array.from({ length: n * d }, () => 2 * rng() - 1);
  const labels = Int32Array.from({ length: n }, (_, i) => (i * 2) % k);
  const w = Float32Array.from({ length: d * k }, () => rng() - 0.5);
  const bias = Float32Array.from({ length: k }, () => rng() - 0.5);
  const b = new GraphBuilder();
  const xs = b.state('x', [n, d]);
  const ys = b.state('labels', [n], { dtype: 'i32' });
  const logits = b.dense(xs, b.param('w', [d, k]), b.param('b', [k]));
  b.output('loss', b.softmaxCrossEntropy(logits, ys));
  using program = compile(b.graph, { device, train: { loss: 'loss', optimizer: { kind: 'none' }, checkFinite: false } });
  program.write('x', x);
  program.write('labels', labels);
  program.write('w', w);
  program.write('b', bias);
  const out = await program.run({});

  // float64 reference
  const gw = new Float64Array(d * k);
  const gb = new Float64Array(k);
  let loss = 0;
  for (let i = 0; i < n; ++i) {
    const s = Array.from({ length: k }, (_, c) => bias[c]! + Array.from({ length: d }, (_, j) => x[i * d + j]! * w[j * k + c]!).reduce((a, v) => a + v, 0));
    const m = Math.max(...s);
    const z = s.reduce((a, v) => a + Math.exp(v - m), 0);
    loss += m + Math.log(z) - s[labels[i]!]!;
    for (let c = 0; c < k; ++c) {
      const r = (Math.exp(s[c]! - m) / z - (c === labels[i] ? 1 : 0)) / n;
      gb[c]! += r;
      for (let j = 0; j < d; ++j) gw[j * k + c]! += r * x[i * d + j]!;
    }
  }
  expect((out.loss as Float32Array)[0]!).toBeCloseTo(loss / n, 5);
  const readW = program.read('grad/w') as Float32Array;
  const readB = program.read('grad/b') as Float32Array;
  gw.forEach((v, i) => expect(readW[i]!).toBeCloseTo(v, 6));
  gb.forEach((v, i) => expect(readB[i]!).toBeCloseTo(v, 6));
  const norm = Math.sqrt([...gw, ...gb].reduce((a, v) => a + v * v, 0));
  expect((out.gradNorm as Float32Array)[0]!).toBeCloseTo(norm, 5);
  // No update: the parameters are bit-identical, and no optimizer state was created.
  expect(Array.from(program.read('w') as Float32Array)).toEqual(Array.from(w));
  expect(Array.from(program.read('b') as Float32Array)).toEqual(Array.from(bias));
  expect(program.bufferNames().filter((s) => /adamw|adafactor/.test(s))).toEqual([]);
});

test("optimizer 'none' with an unknown kind beside it is still a typed error", () => {
  const b = new GraphBuilder();
  b.output('loss', b.softmaxCrossEntropy(b.dense(b.input('x', [2, 2]), b.param('w', [2, 2])), b.input('y', [2], 'i32')));
  expect(() => compile(b.graph, { device, train: { loss: 'loss', optimizer: { kind: 'sgd' } as never } })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
});
