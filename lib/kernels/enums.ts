/** Enums of the kernel contracts (lib/kernels/declare.ts): spec spelling -> C++ enumerator. */
import type { EnumDecl } from './declare';

export const ENUMS: Record<string, EnumDecl> = {
  GeluForm: {
    name: 'GeluForm',
    doc: `Which GELU: the tanh approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (JAX's
default, used by ViT-22B) or the exact x * Phi(x) = 0.5 x (1 + erf(x / sqrt(2))).`,
    values: { tanh: 'Tanh', erf: 'Erf' },
  },
  GemmEpilogue: {
    name: 'GemmEpilogue',
    doc: `What a GEMM does to each output element after alpha/beta, applied once, in f32, before C is
rounded: nothing; + bias[j]; or + bias[j] (bias may be absent) then GELU (geluForm) on the columns
[geluBegin, geluEnd) only (the fused QKV + MLP-in projection, whose MLP part alone goes through GELU).`,
    values: { none: 'None', bias: 'Bias', bias_gelu_columns: 'BiasGeluColumns' },
  },
  InitDistribution: {
    name: 'InitDistribution',
    doc: `Distributions of random_init: constant a; uniform [a, b); normal (mean a, std b); truncated
normal (mean a, std b of the untruncated normal, cut at a +- 2b).`,
    values: { constant: 'Constant', uniform: 'Uniform', normal: 'Normal', truncated_normal: 'TruncatedNormal' },
  },
  MeshAxis: {
    name: 'MeshAxis',
    doc: `An axis of the device mesh (data x model, rank = data * modelSize + model): the collectives
talk to the devices that share every other coordinate (SHARDING.md).`,
    values: { data: 'Data', model: 'Model' },
  },
};
