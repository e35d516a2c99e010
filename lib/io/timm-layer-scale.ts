/**
 * timm's LayerScale (init_values: `blocks.<i>.ls1.gamma`, `ls2.gamma`, a per-channel factor on the
 * attention and MLP branches of a `Block`, as in DeiT III and DINOv2) folded into the projection
 * that feeds it: gamma * (y W^T + b) = y (diag(gamma) W)^T + gamma * b. The model computes the same
 * function with our block, so such weights can be fine-tuned (`train --init`) and run (`predict`).
 * Folding is a reparametrization, not a mapping: gamma stops being a separate parameter (a
 * fine-tuning step differs from timm's, and gradients under timm's names cannot be given), and an
 * export writes the folded projections without gamma. ParallelScalingBlock's LayerScale is not
 * folded (it stays a refused option).
 */
import { Vit22bError } from '../runtime/errors';
import type { TimmStateDict } from './timm-names';

const GAMMA = /^blocks\.(\d+)\.ls([12])\.gamma$/;

/** The state dict with every Block LayerScale folded; `folded` counts the gammas. */
export function foldLayerScale(sd: TimmStateDict): { sd: TimmStateDict; folded: number } {
  const out: TimmStateDict = new Map(sd);
  let folded = 0;
  for (const [name, gamma] of sd) {
    const m = GAMMA.exec(name);
    if (!m) continue;
    const target = m[2] === '1' ? `blocks.${m[1]}.attn.proj` : `blocks.${m[1]}.mlp.fc2`;
    const w = sd.get(`${target}.weight`);
    if (!w || w.shape.length !== 2 || w.shape[0] !== gamma.data.length) {
      throw new Vit22bError('ERR_INVALID_CONFIG', `timm interop: LayerScale ${name} has no ${target}.weight of ${gamma.data.length} rows to fold into`, {
        field: 'init_values',
        option: 'init_values',
        expected: `${target}.weight [${gamma.data.length}, in]`,
        received: w ? JSON.stringify(w.shape) : 'missing',
      });
    }
    const cols = w.shape[1]!;
    // torch Linear weight [out, in]: output channel o is row o.
    const data = new Float32Array(w.data.length);
    for (let o = 0; o < w.shape[0]!; ++o) for (let k = 0; k < cols; ++k) data[o * cols + k] = w.data[o * cols + k]! * gamma.data[o]!;
    out.set(`${target}.weight`, { shape: w.shape, data });
    const b = sd.get(`${target}.bias`);
    if (b) out.set(`${target}.bias`, { shape: b.shape, data: b.data.map((v, o) => v * gamma.data[o]!) });
    out.delete(name);
    folded++;
  }
  return { sd: out, folded };
}
