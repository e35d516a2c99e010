/**
 * What an op is: ONE definition holding its shape rule, its gradient rule and its lowering to
 * kernels, plus the facts the passes need (views, in-place outputs, cost class, effects).
 * Every op lives in lib/graph/ops/<op>.ts and is listed in op-table.ts.
 */
import type { PlanScalar, PlanView } from '../runtime/plan-format';
import type { Graph, Node, Value } from './ir';
import type { TensorType } from './types';

export type Attrs = Readonly<Record<string, unknown>>;

/** What a gradient rule sees. Backward nodes are added to `g` (its phase is already 'backward'). */
export interface GradContext {
  g: Graph;
  node: Node;
  /** Gradient of each output (null where nothing flows back). */
  dy: (Value | null)[];
  /** Which inputs need a gradient; a rule may return null for the others. */
  needs: boolean[];
  /** The value of a constant scalar (a loss seed or a scaled seed), or undefined. */
  constant(v: Value): number | undefined;
}

/** What a lowering sees: where values live and how to emit kernel launches. */
export interface LowerContext {
  /** The memory of `v` (arena offset or persistent slot), as the plan addresses it. */
  view(v: Value): PlanView;
  /** Whether `v` is read by anything (a node or a program output). */
  used(v: Value): boolean;
  /** Whether the planner placed output `out` of `node` on the memory of input `input` (in place). */
  inPlace(node: Node, out: number, input: number): boolean;
  /**
   * A per-run scalar (the learning rate, the step number), fed by Program.run; `factor` asks for
   * the scalar times a constant (a parameter's learning-rate multiplier).
   */
  runtimeScalar(name: string, factor?: number): PlanScalar;
  emit(kernel: string, spec: Record<string, unknown>): void;
}

export interface OpDef {
  name: string;
  /** Output types from input types and attrs; throws a typed error for bad inputs. */
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[];
  /** Gradients of the inputs; absent for ops nothing differentiates through. */
  grad?(ctx: GradContext): (Value | null)[];
  lower(ctx: LowerContext, node: Node): void;
  /** Output 0 is input 0's memory reinterpreted (reshape): no kernel, no allocation. */
  view?: boolean;
  /** [output, input] pairs: the output may take the input's memory when the input dies here. */
  inPlace?: readonly (readonly [number, number])[] | ((node: Node) => readonly (readonly [number, number])[]);
  /** Outputs a kernel can skip when nothing reads them. */
  optionalOutputs?: readonly number[];
  /** Inputs that never carry a gradient (labels, integer data). */
  nonDifferentiable?: readonly number[];
  /** Cheap to recompute (elementwise, norms): selective rematerialization recomputes these. */
  cheap?: boolean;
  /** Writes persistent inputs in place (optimizer updates): kept by DCE, never recomputed. */
  effect?: boolean;
  /** Leaves: where the value comes from. */
  leaf?: 'input' | 'param' | 'state' | 'const';
}
