/** Frozen-feature evaluation: feature extraction, the linear probe and few-shot ridge regression. */
export { compileFeatureProgram, extractFeatures, extractPixels, type Features } from './features';
export { accuracyOf, fitLogistic, logisticObjective, logisticScores, type LogisticFit, type LogisticOptions, type LogisticProblem } from './logistic';
export { DEFAULT_L2_GRID, linearProbe, type LinearProbeOptions, type LinearProbeResult } from './linear-probe';
export { fewShot, ridgeAccuracy, ridgeFit, sampleShots, type FewShotOptions, type FewShotRow } from './few-shot';
export type { FeatureMatrix } from './matrix';
