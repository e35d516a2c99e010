/**
 * vit22b: train Vision Transformers with the ViT-22B recipe, on CUDA GPUs or the CPU.
 * This entry exports the runtime (devices, tensors, errors, system information); the model,
 * graph compiler and trainer join it as they land.
 */
export * from './runtime';
export { benchGemm, type GemmBenchOptions, type GemmBenchResult } from './bench/gemm';
