/**
 * Plans of models too large for this machine, compiled without a device: ViT-22B's training step
 * costs about 33.6 TFLOP per image (the paper's 6N + 12LHQT per token, 256 tokens), its persistent
 * state is 16 bytes per parameter under AdamW (f32 weights, gradients and two moments), and the
 * activation arena shrinks with rematerialization.
 */
import { GraphBuilder, buildVit, compileGraph, countParams, getPreset, planReport } from '../../lib';

function plan(depth: number, remat: 'none' | 'block') {
  const c = getPreset('vit-22b/14', { depth });
  const b = new GraphBuilder({ precision: 'bf16-mixed' });
  buildVit(b, c, { batch: 1 });
  const r = compileGraph(b.graph, { train: { loss: 'loss', optimizer: { kind: 'adamw' } }, remat });
  return { c, report: planReport(r.lowered.plan, r.memory) };
}

test('ViT-22B (4 of its 48 blocks): FLOPs per block as the paper counts them, 16 bytes of state per parameter', () => {
  // Without rematerialization: the executed FLOPs are then the model FLOPs, except that our attention
  // backward recomputes Q K^T (14 instead of 12 x HQT^2, under 0.1% of a block here).
  const { c, report } = plan(4, 'none');
  const two = plan(2, 'none');
  // Per block, per image: 6 x (block matrix params) x T + 12 x H x Q x T^2 (PaLM appendix B).
  const D = 6144, F = 24576, T = 256, H = 48, Q = 128;
  const perBlock = 6 * (4 * D * D + 2 * D * F) * T + 12 * H * Q * T * T;
  const measuredPerBlock = (report.flops - two.report.flops) / 2;
  expect(Math.abs(measuredPerBlock - perBlock) / perBlock).toBeLessThan(0.005);
  expect((perBlock * 48) / 1e12).toBeCloseTo(33.6, 0); // the paper's figure for the whole model
  const params = countParams(c).total;
  const persistent = report.memory.persistentByKind;
  expect(persistent.param).toBe(4 * params);
  expect(persistent.grad).toBe(4 * params);
  expect(persistent.state).toBe(8 * params);
  const block = plan(4, 'block').report;
  expect(block.memory.arenaBytes).toBeLessThan(report.memory.arenaBytes);
  expect(block.flops).toBeGreaterThan(report.flops); // the recomputed forward is real work
});
