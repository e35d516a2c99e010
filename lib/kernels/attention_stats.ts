import { f, kernel } from './declare';
import { attentionChecks, attentionSizes } from './attention_fwd';

export default kernel({
  name: 'attention_stats',
  fn: 'attentionStats',
  struct: 'AttentionStatsArgs',
  doc: `Monitoring statistics of attention (the QK-norm stability study; not part of training):
  s_ij = scale * Q[b, i, h] . K[b, j, h],   p_i = softmax_j(s_i)
  out[0] = max over (b, h, i, j) of s_ij                      the largest attention logit
  out[1] = mean over (b, h, i) of -sum_j p_ij log p_ij        the mean attention entropy (nats)
Every row is computed in f32 from the storage type, and rows are combined in a fixed order, so the
result does not depend on the number of threads.`,
  fields: {
    ...attentionSizes,
    q: f.headView('in', 'dtype', 'tq', '[B, Tq, H, Dh] at qStrides'),
    k: f.headView('in', 'dtype', 'tk', '[B, Tk, H, Dh] at kStrides'),
    out: f.output('f32', '2', '[2] f32, written'),
  },
  checks: attentionChecks,
});
