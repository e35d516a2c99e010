/** The graph compiler: IR, builder, autodiff, passes, lowering, and compiled programs. */
export { Graph, Node, Value, type Phase } from './ir';
export { GraphBuilder, type Precision, type ParamOptions } from './builder';
export { differentiate } from './autodiff';
export {
  appendTrainingStep,
  type TrainingStepOptions,
  type TrainingMode,
  type AdamwSpec,
  type AdafactorSpec,
  type OptimizerSpec,
  type ParamOverride,
  type ParamOverrides,
} from './training-step';
export { resolveOverrides } from './param-overrides';
export { compile, compileGraph, type CompileOptions, type ModelFn } from './compile';
export { Program, type ProgramInputs, type ProgramInput, type MemoryReport, type ProgramMode, type ProfileRow } from './program';
export { eliminateDeadCode } from './passes/dce';
export { fuse, type FusionReport } from './passes/fusion';
export { rematerialize, type RematPolicy } from './passes/remat';
export { planMemory, type MemoryPlan } from './passes/memory-plan';
export { assignOffsets, type Lifetime } from './passes/assign-offsets';
export { lower } from './passes/lower';
export { getOp, opNames } from './op-table';
export type { OpDef, GradContext, LowerContext } from './op-def';
export type { TensorType, Shape, Sharding } from './types';
export { checkMesh, meshText, sliceForDevice, placeFromDevice, type MeshAxis, type DimSplit, type DimLayout, type ShardingSpec } from './sharding';
export { partition, type PartitionResult, type OutputAssembly, type LeafLayout } from './passes/partition';
export { planReport, type PlanReport } from './plan-report';
