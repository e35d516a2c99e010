/**
 * Model FLOPs utilization (MFU) of a training step, as PaLM defines it (Chowdhery et al. 2022,
 * appendix B): the FLOPs the model needs per token, 6N + 12·L·H·Q·T for a training step (N the
 * non-embedding parameters: 2 FLOPs per parameter forward, 4 backward; the attention's two T x T
 * products, 2 x 2·H·Q·T per layer and token forward, x 3 with the backward), times tokens per second,
 * over the card's dense bf16 peak. Recomputation (remat) does not count: that is what makes it
 * *model* FLOPs. `plan` and `bench step` also report the FLOPs the compiled step actually launches
 * (lib/graph/plan-report.ts: every GEMM, attention backward recomputing QK^T), which give the
 * hardware FLOPs utilization (HFU) beside it.
 *
 * The one adaptation to a ViT: a parameter applied to one token per image (the pooling head: MAP's
 * query, out-projection and MLP, the classifier) costs 6 FLOPs per image, not per token; counting
 * it for all T tokens would credit a 4-layer ViT-22B-width stack with a fifth layer it never runs.
 * So, per image:
 *
 *   FLOPs = 6·(N_token·T + N_image) + 12·L·H·Q·T² + [MAP] 12·H·Q·T
 *
 * N = N_token + N_image = every parameter but the embeddings (patch embedding, position embedding,
 * class token); N_token: the blocks, the final norm and MAP's key/value projection, applied to
 * every token; N_image: the rest of the head; L layers, H heads, Q = width / heads, T tokens the
 * blocks see (the class token included); the MAP term is its probe's one query over T keys.
 */
import { paramSpecs, sequenceLength, type ModelConfig } from '../model';

export interface ModelFlops {
  /** Tokens per image the blocks see (T). */
  tokens: number;
  /** N: every parameter but the patch embedding, position embedding and class token. */
  nonEmbeddingParams: number;
  /** The part of N applied to every token (blocks, final norm, MAP key/value projection). */
  perTokenParams: number;
  /** The part of N applied once per image (the rest of the pooling head, the classifier). */
  perImageParams: number;
  /** 12·L·H·Q·T² (+ 12·H·Q·T for a MAP head): attention's score and value products, per image. */
  attentionPerImage: number;
  /** Training FLOPs per image (forward + backward, no recomputation). */
  perImage: number;
}

const EMBEDDING = new Set(['embed', 'pos', 'cls']);

function appliedPerToken(name: string): boolean {
  return name.startsWith('block') || name.startsWith('final_norm/') || name.startsWith('map/kv/');
}

/** The PaLM model FLOPs of one training step, per image (see the file comment). */
export function trainingFlopsPerImage(c: ModelConfig): ModelFlops {
  let perTokenParams = 0;
  let perImageParams = 0;
  for (const s of paramSpecs(c)) {
    if (EMBEDDING.has(s.name.split('/')[0]!)) continue;
    const n = s.shape.reduce((a, b) => a * b, 1);
    if (appliedPerToken(s.name)) perTokenParams += n;
    else perImageParams += n;
  }
  const t = sequenceLength(c);
  const hq = c.width; // H·Q: heads times the head dimension
  const attentionPerImage = 12 * c.depth * hq * t * t + (c.pool === 'map' ? 12 * hq * t : 0);
  return {
    tokens: t,
    nonEmbeddingParams: perTokenParams + perImageParams,
    perTokenParams,
    perImageParams,
    attentionPerImage,
    perImage: 6 * (perTokenParams * t + perImageParams) + attentionPerImage,
  };
}

/** A card's dense (no sparsity) bf16 tensor-core peak, from its datasheet. */
export interface PeakEntry {
  card: string;
  /** TFLOP/s, dense bf16. */
  tflops: number;
}

/**
 * Device names as CUDA reports them ("NVIDIA H100 80GB HBM3", "NVIDIA H100 PCIe", "NVIDIA H200",
 * "NVIDIA A100-SXM4-80GB") to datasheet peaks. NVL variants and GH200 ("NVIDIA GH200 480GB": the
 * \b keeps it from matching H200) have other clocks and are left unknown rather than guessed.
 */
const PEAKS: { match: (name: string) => boolean; entry: PeakEntry }[] = [
  { match: (n) => /\bH100\b/i.test(n) && /PCIe/i.test(n), entry: { card: 'H100 PCIe', tflops: 756 } },
  { match: (n) => /\bH100\b/i.test(n) && !/PCIe|NVL/i.test(n), entry: { card: 'H100 SXM', tflops: 989.4 } },
  { match: (n) => /\bH200\b/i.test(n) && !/NVL/i.test(n), entry: { card: 'H200', tflops: 989.4 } },
  { match: (n) => /\bA100\b/i.test(n), entry: { card: 'A100', tflops: 312 } },
];

/** The dense bf16 peak of the card named `deviceName`, or undefined for a card not in the table. */
export function denseBf16Peak(deviceName: string): PeakEntry | undefined {
  return PEAKS.find((p) => p.match(deviceName))?.entry;
}

export type Utilization =
  | { card: string; peakTflops: number; mfu: number; hfu?: number }
  | { note: string };

/**
 * MFU = FLOPs per image (PaLM) x images/s / peak; HFU the same with the FLOPs the step launches
 * (per step, / seconds per step). `peakOverride` (TFLOP/s) stands in for a card not in the table.
 */
export function utilization(o: {
  deviceName: string;
  deviceKind: 'cpu' | 'cuda';
  modelFlopsPerImage: number;
  imagesPerSecond: number;
  launchedFlopsPerStep?: number;
  secondsPerStep?: number;
  peakOverride?: number;
}): Utilization {
  let peak: PeakEntry | undefined;
  if (o.peakOverride !== undefined) peak = { card: `${o.deviceName} (--peak-tflops)`, tflops: o.peakOverride };
  else if (o.deviceKind === 'cuda') peak = denseBf16Peak(o.deviceName);
  if (!peak) {
    return {
      note:
        o.deviceKind === 'cpu'
          ? 'MFU omitted: no bf16 peak for a CPU (give --peak-tflops to compute one)'
          : `MFU omitted: ${o.deviceName} is not in the peak table (H100 SXM/PCIe, H200, A100); give --peak-tflops`,
    };
  }
  const peakFlops = peak.tflops * 1e12;
  const u: Utilization = { card: peak.card, peakTflops: peak.tflops, mfu: (o.modelFlopsPerImage * o.imagesPerSecond) / peakFlops };
  if (o.launchedFlopsPerStep !== undefined && o.secondsPerStep !== undefined && o.secondsPerStep > 0) {
    u.hfu = o.launchedFlopsPerStep / o.secondsPerStep / peakFlops;
  }
  return u;
}
