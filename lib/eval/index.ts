/** Frozen-feature evaluation: feature extraction, the linear probe and few-shot ridge regression. */
export { compileFeatureProgram, extractFeatures, extractPixels, type Features } from './features';
export { minimizeLbfgs, type LbfgsOptions, type LbfgsResult, type Objective } from './lbfgs';
export { accuracyOf, fitLogistic, hostLogisticObjective, logisticObjective, logisticScores, type LogisticFit, type LogisticOptions, type LogisticProblem } from './logistic';
export { DeviceLogisticData } from './device-logistic';
export { DEFAULT_L2_GRID, linearProbe, type LinearProbeOptions, type LinearProbeResult } from './linear-probe';
export { FEWSHOT_L2_GRID, fewShot, ridgeAccuracy, ridgeFit, sampleShots, sampleValidation, type FewShotOptions, type FewShotRow } from './few-shot';
export { deviceRidge, hostRidge, type RidgeBackend } from './ridge-backend';
export type { FeatureMatrix } from './matrix';
