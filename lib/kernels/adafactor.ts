import { f, kernel } from './declare';

export default kernel({
  name: 'adafactor',
  fn: 'adafactor',
  struct: 'AdafactorArgs',
  doc: `One step of Adafactor as used by big_vision for ViT-G / ViT-e / ViT-22B (optax's
scale_by_factored_rms, then optional block-RMS clipping, then momentum, then lr and decay). The full
formula is written out in native/cpu/adafactor.cc. The parameter is viewed as a matrix [rows, cols]
(a vector as [1, n]); \`factored\` keeps row/column statistics vr/vc instead of a full v (big_vision
factors when both dims >= 32; the caller decides).`,
  fields: {
    gradType: f.dtype(['f32', 'bf16']),
    momentumType: f.dtype(['f32', 'bf16'], 'bf16 (the recipe) | f32'),
    rows: f.count(),
    cols: f.count(),
    factored: f.bool(),
    param: f.inout('f32', 'rows * cols', '[rows, cols] f32'),
    grad: f.input('gradType', 'rows * cols', '[rows, cols] of gradType'),
    vr: f.maybe('inout', 'f32', 'rows', '[rows] f32, factored only', { requiredWhen: 'factored' }),
    vc: f.maybe('inout', 'f32', 'cols', '[cols] f32, factored only', { requiredWhen: 'factored' }),
    v: f.maybe('inout', 'f32', 'rows * cols', '[rows, cols] f32, unfactored only', { requiredWhen: '!factored' }),
    momentum: f.inout('momentumType', 'rows * cols', '[rows, cols] of momentumType'),
    lr: f.dynamic('f32', { lo: 0, hi: 1e30 }, "the schedule's learning rate at this step"),
    lrMult: f.number({ lo: 0, hi: 1e30 }, "this parameter's learning-rate multiplier", 1),
    weightDecay: f.dynamic('f32', { lo: 0, hi: 1e30 }, 'decoupled, scaled by lr (not by lrMult)'),
    beta1: f.number({ lo: 0, hi: 1, hiOpen: true }, 'momentum decay (no debiasing)', 0.9),
    decay: f.dynamic('f32', { lo: 0, hi: 1, hiOpen: true }, 'beta2_t = min(0.999, 1 - t^-0.8), computed by the caller'),
    // eps > 0 keeps 1/sqrt(v) finite for all-zero gradient rows; below FLT_MIN it would flush.
    eps: f.number({ lo: 1.1754943508222875e-38, hi: 1e30 }, 'epsilon1, added to grad^2', 1e-30),
    gradScale: f.dynamic('f32', { lo: 0, hi: 1e30 }, 'the global-norm clip factor, or 1', 1),
    clipThreshold: f.number({ lo: 0, hi: 1e30 }, 'block-RMS update clipping; 0 = off (the recipe)'),
  },
  checks: [
    { when: 'factored', holds: '!has(v)', message: 'v must be absent when factored (the second moment is vr and vc)', expected: 'no v', received: 'a v buffer', example: (s) => (s.factored ? { v: s.param } : undefined) },
    { when: '!factored', holds: '!has(vr)', message: 'vr must be absent when not factored (the second moment is v)', expected: 'no vr', received: 'a vr buffer', example: (s) => (s.factored ? undefined : { vr: s.param }) },
    { when: '!factored', holds: '!has(vc)', message: 'vc must be absent when not factored (the second moment is v)', expected: 'no vc', received: 'a vc buffer', example: (s) => (s.factored ? undefined : { vc: s.param }) },
  ],
});
