/** The planner: memory, communication, step time and MFU of a training step on any mesh and card, modelled from its compiled plan. */
export { DEVICES, getDevice, deviceIds, withOverrides, type DeviceSpec, type DeviceOverrides } from './devices';
export { estimate, estimateModes, figuresOf, type EstimateOptions, type PlanEstimate, type PlannerOverlap, type CollectiveTraffic } from './estimate';
export { search, type SearchOptions, type SearchResult, type SearchCandidate, type SearchRejection } from './search';
export { schedule, type Schedule as PlanSchedule } from './schedule';
export { costPlan, costInstruction, type InstructionCost, type CostContext } from './instruction-cost';
export { collectiveSeconds, bytesSent } from './collective-cost';
export { gemmSeconds, tileQuantization } from './gemm-model';
export { topologyOf, type Topology } from './topology';
export { memoryBreakdown, fitVerdict, type MemoryBreakdown } from './memory';
export {
  measureCalibration,
  readCalibration,
  writeCalibration,
  defaultCalibrationPath,
  calibratedGemmRate,
  calibratedKernelRates,
  cpuDevice,
  type Calibration,
} from './calibration';
