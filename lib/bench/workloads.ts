/**
 * The models `vit22b bench step` measures beyond the presets, and the batch "as large as fits".
 *
 * `vit-22b-stack`: ViT-22B at full width (lib/model/presets.ts 'vit-22b/14': D 6144, 48 heads, MLP
 * 24576, parallel blocks, QK-norm, RMSNorm, MAP head) on 224 px images in 14 px patches, so 256
 * tokens, with 4 layers instead of 48 (--depth 4..8): issue 7's speed workload. A name for the
 * benchmark only; the preset table is left as it is.
 *
 * The batch that fits is found by compiling the step without a device (as `vit22b plan` does) and
 * comparing the memory plan (activation arena + parameters, gradients, optimizer state) with the
 * card's memory, less headroom for the CUDA context, cuBLASLt workspaces and allocator rounding.
 */
import { compileGraph } from '../graph/compile';
import { GraphBuilder, type Precision } from '../graph/builder';
import { planReport } from '../graph/plan-report';
import type { RematPolicy } from '../graph/passes/remat';
import type { OptimizerSpec } from '../graph/training-step';
import { getPreset, validateConfig, type ModelConfig } from '../model';
import { vitModel } from '../train/vit-model';

export const STACK_NAME = 'vit-22b-stack';
export const STACK_DEFAULT_DEPTH = 4;

/** The benchmark's model names besides the presets. */
export function benchModelNames(): string[] {
  return [STACK_NAME];
}

/** `vit-22b-stack` at `depth` (default 4), or undefined for any other name. */
export function benchModel(name: string, depth?: number): { name: string; config: ModelConfig } | undefined {
  if (name !== STACK_NAME) return undefined;
  const d = depth ?? STACK_DEFAULT_DEPTH;
  return { name: `${STACK_NAME} (depth ${d})`, config: getPreset('vit-22b/14', { depth: d }) };
}

/** A config with its depth replaced (validated), for --depth on any model. */
export function withDepth(config: ModelConfig, depth: number | undefined): ModelConfig {
  return depth === undefined ? config : validateConfig({ ...config, depth });
}

export interface StepPlanOptions {
  precision: Precision;
  remat: RematPolicy;
  optimizer: OptimizerSpec;
}

/** The device memory and launched FLOPs of one training step at this batch, from its plan. */
export function planStep(config: ModelConfig, batch: number, o: StepPlanOptions): { totalBytes: number; flops: number } {
  const b = new GraphBuilder({ precision: o.precision });
  vitModel(config)(b, { images: [batch, config.imageSize, config.imageSize, config.channels], labels: [batch] });
  const compiled = compileGraph(b.graph, { train: { loss: 'loss', optimizer: o.optimizer, clipNorm: 1 }, remat: o.remat });
  const r = planReport(compiled.lowered.plan, compiled.memory);
  return { totalBytes: r.memory.totalBytes, flops: r.flops };
}

/** Batches tried by --batch auto, ascending: powers of two and the 1.5x steps between them. */
export const BATCH_CANDIDATES = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024];

/** Memory left for a step: 92% of the card, less 2 GiB (context, cuBLASLt workspaces, rounding). */
export function usableBytes(memoryBytes: number): number {
  return Math.max(0, memoryBytes * 0.92 - 2 * 2 ** 30);
}

/**
 * The largest candidate batch whose planned step fits in `budgetBytes` (binary search: the plan's
 * memory grows with the batch), or undefined when not even batch 1 fits.
 * `plan` is injectable for tests.
 */
export function largestFittingBatch(
  config: ModelConfig,
  budgetBytes: number,
  o: StepPlanOptions,
  candidates: readonly number[] = BATCH_CANDIDATES,
  plan: (batch: number) => number = (batch) => planStep(config, batch, o).totalBytes,
): number | undefined {
  let lo = -1; // index of the largest batch known to fit
  let hi = candidates.length; // index of the smallest batch known not to fit
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (plan(candidates[mid]!) <= budgetBytes) lo = mid;
    else hi = mid;
  }
  return lo >= 0 ? candidates[lo] : undefined;
}

/** The next smaller candidate (after an out-of-memory at runtime), or undefined. */
export function smallerBatch(batch: number, candidates: readonly number[] = BATCH_CANDIDATES): number | undefined {
  const below = candidates.filter((c) => c < batch);
  return below.length > 0 ? below[below.length - 1] : undefined;
}
