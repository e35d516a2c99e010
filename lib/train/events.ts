/** What a Trainer reports: one event per step, per skipped step and per evaluation, then a summary. */

export interface StepEvent {
  type: 'step';
  /** The step just taken, from 1, and the run's total. */
  step: number;
  steps: number;
  /** Mean training loss of the step's batch (of its micro-batches, with accumulation). */
  loss: number;
  /** Top-1 accuracy on the step's batch, in [0, 1]. */
  accuracy: number;
  /** The learning rate this step used. */
  lr: number;
  /** Global norm of the (mean) gradient, before clipping. */
  gradNorm: number;
  /** Images of this step over the wall time since the previous step ended. */
  imagesPerSecond: number;
  /** Seconds since training started (evaluation included). */
  seconds: number;
  /** Steps skipped so far (onNonFinite: 'skip'). */
  skipped: number;
}

export interface SkipEvent {
  type: 'skip';
  step: number;
  /** Why: the ERR_NON_FINITE message. */
  reason: string;
  skipped: number;
  seconds: number;
}

export interface EvalEvent {
  type: 'eval';
  /** The training step after which the evaluation ran. */
  step: number;
  /** Top-1 accuracy over the whole test set, in [0, 1]. */
  testAccuracy: number;
  /** Top-5 accuracy, when the model's accuracy output has it. */
  testTop5?: number;
  /** Mean loss over the test set. */
  testLoss: number;
  examples: number;
  /** Seconds the evaluation took, and seconds since training started. */
  evalSeconds: number;
  seconds: number;
}

export type TrainerEvent = StepEvent | SkipEvent | EvalEvent;

export interface TrainSummary {
  steps: number;
  skipped: number;
  /** Wall time of the whole run, evaluation included. */
  seconds: number;
  /** Training images per second of training time (evaluation excluded). */
  imagesPerSecond: number;
  finalLoss: number;
  /** From the last evaluation, when there was one. */
  testAccuracy?: number;
  testLoss?: number;
  /** The data x model mesh the run used ({ data: 1, model: 1 }: one device). */
  mesh: { data: number; model: number };
}
