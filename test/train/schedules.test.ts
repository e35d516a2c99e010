// Learning-rate schedules (lib/train/schedules.ts) against their closed forms, written out here.
import { makeSchedule, type ScheduleSpec } from '../../lib/train/schedules';

const T = 100, W = 10, b = 1e-3;
const close = (a: number, e: number) => expect(Math.abs(a - e)).toBeLessThanOrEqual(1e-15 + 1e-12 * Math.abs(e));
const p = (t: number) => Math.min(1, Math.max(0, (t - W) / (T - W)));

test.each<[ScheduleSpec['kind'], (t: number) => number]>([
  ['constant', () => b],
  ['linear', (t) => b * (1 - p(t))],
  ['cosine', (t) => (b * (1 + Math.cos(Math.PI * p(t)))) / 2],
  ['rsqrt', (t) => b * Math.sqrt(10_000 / (10_000 + t - W))],
])('%s with warmup matches its closed form at every step', (kind, after) => {
  const lr = makeSchedule({ kind, lr: b, warmup: W, totalSteps: T });
  for (let t = 1; t <= T; ++t) close(lr(t), t <= W ? (b * t) / W : after(t));
  close(lr(W), b); // warmup ends exactly at the base rate
  close(lr(1), b / W); // and never starts at 0
});

test("rsqrt with the paper's shape: timescale, then a linear cooldown over the last steps", () => {
  const c = 30, ts = 50;
  const lr = makeSchedule({ kind: 'rsqrt', lr: b, warmup: W, cooldown: c, timescale: ts, totalSteps: T });
  for (let t = W + 1; t <= T; ++t) close(lr(t), b * Math.sqrt(ts / (ts + t - W)) * Math.min(1, (T - t + 1) / c));
  close(lr(T), (b * Math.sqrt(ts / (ts + T - W))) / c); // the last update still has a learning rate
  expect(lr(T - c)).toBeGreaterThan(lr(T - c + 2));
  // The recipe's own numbers: 1e-3 after 10k warmup steps; rsqrt halves it by 30k steps past warmup.
  const paper = makeSchedule({ kind: 'rsqrt', lr: 1e-3, warmup: 10_000, cooldown: 30_000, totalSteps: 177_000 });
  close(paper(10_000), 1e-3);
  close(paper(40_000), 1e-3 * Math.sqrt(10_000 / 40_000));
  close(paper(177_000), (1e-3 * Math.sqrt(10_000 / 177_000)) / 30_000);
});

test('cosine and linear decay to endFactor x lr; no warmup starts at the base rate', () => {
  const cos = makeSchedule({ kind: 'cosine', lr: 2, totalSteps: 50, endFactor: 0.1 });
  close(cos(1), 0.2 + 1.8 * (1 + Math.cos(Math.PI / 50)) / 2);
  close(cos(50), 0.2);
  const lin = makeSchedule({ kind: 'linear', lr: 2, totalSteps: 50, endFactor: 0.5 });
  close(lin(25), 2 - 0.5);
  close(lin(50), 1);
});

test('bad specs and steps are typed errors naming the field', () => {
  const err = (field: string) => expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT', details: expect.objectContaining({ field }) });
  expect(() => makeSchedule({ kind: 'exp' as never, lr: 1, totalSteps: 5 })).toThrow(err('kind'));
  expect(() => makeSchedule({ kind: 'cosine', lr: -1, totalSteps: 5 })).toThrow(err('lr'));
  expect(() => makeSchedule({ kind: 'cosine', lr: 1, totalSteps: 0 })).toThrow(err('totalSteps'));
  expect(() => makeSchedule({ kind: 'cosine', lr: 1, totalSteps: 5, warmup: 1.5 })).toThrow(err('warmup'));
  expect(() => makeSchedule({ kind: 'linear', lr: 1, totalSteps: 5, endFactor: 2 })).toThrow(err('endFactor'));
  expect(() => makeSchedule({ kind: 'cosine', lr: 1, totalSteps: 5 })(0)).toThrow(err('step'));
});
