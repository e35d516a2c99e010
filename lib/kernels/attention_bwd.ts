import { f, kernel } from './declare';
import { attentionChecks, attentionSizes } from './attention_fwd';

export default kernel({
  name: 'attention_bwd',
  fn: 'attentionBwd',
  struct: 'AttentionBwdArgs',
  doc: `Fused multi-head attention, backward, by recomputation from the forward's L:
  P = exp(scale * Q K^T - L), D = rowsum(dO * O), dS = P * (dO V^T - D)
  dQ = scale * dS K, dK = scale * dS^T Q, dV = P^T dO
dQ, dK and dV are overwritten (not accumulated), each in the storage type, rounded once from f32.
Outputs sharing one buffer (the fused layout) must be disjoint column ranges of the same rows.
Every gradient element is summed in a fixed order, so results do not depend on the thread count.`,
  fields: {
    ...attentionSizes,
    q: f.headView('in', 'dtype', 'tq', '[B, Tq, H, Dh]'),
    k: f.headView('in', 'dtype', 'tk', '[B, Tk, H, Dh]'),
    v: f.headView('in', 'dtype', 'tk', '[B, Tk, H, Dh]'),
    o: f.headView('in', 'dtype', 'tq', "[B, Tq, H, Dh], the forward's output"),
    dO: f.headView('in', 'dtype', 'tq', '[B, Tq, H, Dh]'),
    lse: f.input('f32', 'batch * heads * tq', "[B, H, Tq] dense f32, the forward's L"),
    dQ: f.headView('out', 'dtype', 'tq', '[B, Tq, H, Dh], written'),
    dK: f.headView('out', 'dtype', 'tk', '[B, Tk, H, Dh], written'),
    dV: f.headView('out', 'dtype', 'tk', '[B, Tk, H, Dh], written'),
  },
  checks: attentionChecks,
});
