/** Models: configurations, presets, parameter specs and counts, and the ViT graph builder. */
export { validateConfig, tokensOf, type ModelConfig } from './config';
export { getPreset, presetNames } from './presets';
export { paramSpecs, countParams, sequenceLength, type ParamSpec, type ParamCounts } from './params';
export { buildVit, type VitBuildOptions } from './vit';
export { sincos2d } from './sincos';
export { resamplePosEmbed, type PosGrid } from './resample-pos';
export { checkMeshFits } from './mesh-fit';
