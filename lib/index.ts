/**
 * vit22b: train Vision Transformers with the ViT-22B recipe, on CUDA GPUs or the CPU.
 * This entry exports the runtime (devices, tensors, errors, system information, plans), the graph
 * compiler (GraphBuilder, compile, Program), the models (presets, buildVit, countParams), the data
 * (datasets, DataLoader), the trainer (Trainer, schedules) and files (safetensors, checkpoints).
 */
export * from './runtime';
export { benchGemm, type GemmBenchOptions, type GemmBenchResult } from './bench/gemm';
export { benchStep, type StepBenchOptions, type StepBenchResult } from './bench/step';
export { trainingFlopsPerImage, denseBf16Peak, utilization, type ModelFlops, type PeakEntry, type Utilization } from './bench/mfu';
export { benchModel, largestFittingBatch, usableBytes, planStep } from './bench/workloads';
export * from './graph';
export * from './model';
export * from './data';
export * from './train';
export * from './io';
export * from './eval';
export * from './study';
export * from './plan';
