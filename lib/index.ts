/**
 * vit22b: train Vision Transformers with the ViT-22B recipe, on CUDA GPUs or the CPU.
 * This entry exports the runtime (devices, tensors, errors, system information, plans) and the graph
 * compiler (GraphBuilder, compile, Program) and the trainer (Trainer, schedules); the model and data
 * join them as they land.
 */
export * from './runtime';
export { benchGemm, type GemmBenchOptions, type GemmBenchResult } from './bench/gemm';
export { benchStep, type StepBenchOptions, type StepBenchResult } from './bench/step';
export * from './graph';
export * from './model';
export * from './data';
export * from './train';
