/**
 * vit22b: train Vision Transformers with the ViT-22B recipe, on CUDA GPUs or the CPU.
 * This entry exports the runtime (devices, tensors, errors, system information, plans), the graph
 * compiler (GraphBuilder, compile, Program), the models (presets, buildVit, countParams), the data
 * (datasets, DataLoader) and the trainer (Trainer, schedules).
 */
export * from './runtime';
export { benchGemm, type GemmBenchOptions, type GemmBenchResult } from './bench/gemm';
export { benchStep, type StepBenchOptions, type StepBenchResult } from './bench/step';
export * from './graph';
export * from './model';
export * from './data';
export * from './train';
export { timmToNative, nativeToTimm, timmCompatibility, usesFusedOutProj, type TimmStateDict, type TimmTensor, type NativeParams, type TimmExportOptions } from './io/timm-names';
