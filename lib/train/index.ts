/** Training: schedules, the Trainer (events, evaluation, metrics, progress), and their types. */
export { makeSchedule, SCHEDULE_KINDS, type Schedule, type ScheduleKind, type ScheduleSpec } from './schedules';
export { Trainer, type TrainerOptions, type TrainerCallbacks } from './trainer';
export type { TrainerCheckpointState } from './trainer-checkpoint';
export { evaluate, type EvalResult } from './evaluate';
export type { BatchSource, SourceBatch } from './batch-source';
export type { StepEvent, SkipEvent, EvalEvent, TrainerEvent, TrainSummary } from './events';
export { MetricsLog } from './metrics-log';
export { vitModel, type VitModelOptions } from './vit-model';
export { loadPretrained, type PretrainedInit, type PretrainedWeights } from './pretrained';
export { fineTuneOverrides, type FineTuneOptions } from './finetune-overrides';
export { ProgressReporter, formatDuration, type ProgressMode, type ProgressStream } from './progress';
/** The precision policy, passed through to the compiler: 'fp32' | 'bf16-mixed'. */
export type { Precision } from '../graph/builder';
