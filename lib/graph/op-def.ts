/**
 * What an op is: ONE definition holding its shape rule, its gradient rule and its lowering to
 * kernels, plus the facts the passes need (views, in-place outputs, cost class, effects).
 * Every op lives in lib/graph/ops/<op>.ts and is listed in op-table.ts.
 */
import type { KernelName, KernelSpec } from '../kernels/spec';
import type { PlanInstruction, PlanScalar, PlanView } from '../runtime/plan-format';
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

/**
 * A value that lives inside a wider buffer (passes/windows.ts): its elements, in row-major order,
 * are cut into rows of `rowLen`, row i starting `rowStride` elements after row i - 1. A column
 * slice q = z[:, 0:D] of z [B*T, 3D + F] is rows of D, 3D + F apart.
 */
export interface Window {
  rowLen: number;
  rowStride: number;
}

/** What a lowering sees: where values live and how to emit kernel launches. */
export interface EmitOptions {
  stream?: number;
  after?: readonly PlanInstruction[];
}

export interface LowerContext {
  /**
   * The memory of `v` (arena offset or persistent slot), as the plan addresses it. Throws
   * ERR_INTERNAL for a value in a strided window: only lowerings that declare windowInputs /
   * windowOutputs may see those, through strided().
   */
  view(v: Value): PlanView;
  /**
   * `v`'s memory from its first element to its last (the whole extent a kernel may touch), and its
   * window when it has one (undefined: dense).
   */
  strided(v: Value): { view: PlanView; window?: Window };
  /** Whether `v` lives inside another value's buffer (a window): a slice made a view, nothing to copy. */
  aliased(v: Value): boolean;
  /** Whether concat/scatter input `piece` already lives inside the node's output (no copy). */
  placed(piece: Value): boolean;
  /** Whether `v` is read by anything (a node or a program output). */
  used(v: Value): boolean;
  /** Whether the planner placed output `out` of `node` on the memory of input `input` (in place). */
  inPlace(node: Node, out: number, input: number): boolean;
  /**
   * A per-run scalar (the learning rate, the step number), fed by Program.run; `factor` asks for
   * the scalar times a constant (a parameter's learning-rate multiplier).
   */
  runtimeScalar(name: string, factor?: number): PlanScalar;
  /**
   * One kernel launch; the spec is checked against the kernel's declaration (lib/kernels/<K>.ts).
   * `options.stream`: another plan stream than the node's (the collective matmul's permutes); such
   * an instruction starts after everything before the node on the node's stream, and the node's
   * last instruction must be on its own stream, ordered after the others (through `after`).
   * `options.after`: instructions of this node it must follow (events where streams differ).
   */
  emit<K extends KernelName>(kernel: K, spec: KernelSpec<K, PlanView, PlanScalar>, options?: EmitOptions): PlanInstruction;
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
  /**
   * Inputs (by index) this op's lowering reads correctly as a window of rows of `rowLen` elements,
   * rowStride apart (passes/windows.ts asks before turning a slice into a view).
   */
  windowInput?(node: Node, input: number, rowLen: number): boolean;
  /** Outputs this op's lowering can write straight into a window of a concatenation's output. */
  windowOutput?(node: Node, output: number, rowLen: number): boolean;
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
