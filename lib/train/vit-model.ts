/**
 * A ViT from a config as the Trainer's model function: lib/model's buildVit for each input shape
 * (the batch comes from `images`), with a softmax loss over the `labels` input.
 */
import type { ModelFn } from '../graph/compile';
import { buildVit, type ModelConfig } from '../model';

export interface VitModelOptions {
  labelSmoothing?: number;
  /** Also output the logits (prediction). */
  logits?: boolean;
}

export function vitModel(config: ModelConfig, options: VitModelOptions = {}): ModelFn {
  return (b, shapes) =>
    buildVit(b, config, { batch: shapes.images![0]!, loss: 'softmax', labelSmoothing: options.labelSmoothing ?? 0, logits: options.logits ?? false });
}
