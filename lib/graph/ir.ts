/**
 * The graph IR: Values (typed tensors in SSA form) produced by Nodes (one op each). A Graph is an
 * ordered node list; the order is the schedule (builders append in a valid order, passes keep it
 * valid), so liveness and memory planning read it directly.
 *
 * Leaves are nodes without inputs: `input` (fed per run), `param` (trainable, persistent), `state`
 * (persistent, not trained: optimizer moments, counters) and `const` (a persistent fill). Nodes whose
 * op has effects (optimizer updates) write persistent values in place and are never removed.
 */
import { Vit22bError } from '../runtime/errors';
import { getOp } from './op-table';
import type { Attrs } from './op-def';
import type { MeshShape } from './sharding';
import type { LeafLayout } from './passes/partition';
import { shapeText, type DType, type Shape, type Sharding, type TensorType } from './types';

/** Which part of a training step a node belongs to (rematerialization and reports read it). */
export type Phase = 'forward' | 'backward' | 'update';

export class Value {
  /** A persistent slot name for a non-leaf value (a parameter's gradient): placed there, not in the arena. */
  persistentName?: string;
  /** Under a mesh: the global tensor a persistent non-leaf value (a gradient) is a slice of. */
  persistentLayout?: LeafLayout;
  /** Block-level rematerialization keeps values marked as checkpoints and recomputes the rest. */
  checkpoint = false;

  constructor(
    readonly id: number,
    public type: TensorType,
    public node: Node,
    public index: number,
  ) {}

  get shape(): Shape {
    return this.type.shape;
  }
  get dtype(): DType {
    return this.type.dtype;
  }
  get sharding(): Sharding | undefined {
    return this.type.sharding;
  }
  toString(): string {
    return `%${this.id}:${this.dtype}${shapeText(this.shape)}`;
  }
}

export class Node {
  outputs: Value[] = [];
  /**
   * On a stream other than 0 (passes/streams.ts): start only after the compute scheduled before
   * this node, not as soon as the inputs are ready (a prefetch placed one layer ahead,
   * passes/prefetch.ts). Lowering waits for stream 0's last instruction before it; the memory
   * planner reserves its buffers from there on.
   */
  fence = false;
  constructor(
    readonly id: number,
    readonly op: string,
    public inputs: Value[],
    public attrs: Attrs,
    public phase: Phase,
    /** The builder scope (e.g. 'block3') the node was made in; block rematerialization groups by it. */
    public scope: string,
  ) {}
  toString(): string {
    return `#${this.id} ${this.op}(${this.inputs.map((v) => `%${v.id}`).join(', ')})`;
  }
}

export class Graph {
  nodes: Node[] = [];
  /** Named program outputs, downloaded after each run (loss, metrics, logits). */
  readonly outputs = new Map<string, Value>();
  phase: Phase = 'forward';
  scope = '';
  /** The precision policy the graph was built under (GraphBuilder sets it). */
  precision: 'fp32' | 'bf16-mixed' = 'fp32';
  /** The mesh a partitioned graph runs on (passes/partition.ts); undefined: one device. */
  mesh?: MeshShape;
  private nextValue = 0;
  private nextNode = 0;

  /** Appends a node of `op`; its output types come from the op's shape rule. */
  add(op: string, inputs: Value[], attrs: Attrs = {}): Node {
    const def = getOp(op);
    for (const v of inputs) {
      if (!(v instanceof Value)) {
        throw new Vit22bError('ERR_INVALID_ARGUMENT', `${op}: every input must be a graph Value`, {
          expected: 'Value',
          received: v === null ? 'null' : typeof v,
        });
      }
    }
    const types = def.infer(
      inputs.map((v) => v.type),
      attrs,
    );
    const node = new Node(this.nextNode++, op, inputs, attrs, this.phase, this.scope);
    node.outputs = types.map((t, i) => new Value(this.nextValue++, t, node, i));
    this.nodes.push(node);
    return node;
  }

  /** Adds a node of `op` at position `index` of the schedule (passes that rewrite in place). */
  addAt(index: number, op: string, inputs: Value[], attrs: Attrs = {}): Node {
    const node = this.add(op, inputs, attrs);
    this.nodes.pop();
    this.nodes.splice(index, 0, node);
    return node;
  }

  /** Makes every reader of `from` (nodes and program outputs) read `to` instead. */
  replaceUses(from: Value, to: Value): void {
    for (const n of this.nodes) n.inputs = n.inputs.map((v) => (v === from ? to : v));
    for (const [k, v] of this.outputs) if (v === from) this.outputs.set(k, to);
    if (from.persistentName !== undefined) to.persistentName = from.persistentName;
    if (from.persistentLayout !== undefined) to.persistentLayout = from.persistentLayout;
    to.checkpoint ||= from.checkpoint;
  }

  /** Appends `op` and returns its first output. */
  apply(op: string, inputs: Value[], attrs: Attrs = {}): Value {
    return this.add(op, inputs, attrs).outputs[0]!;
  }

  /** A node like `proto` (same op and attrs) on new inputs, appended at the end. */
  clone(proto: Node, inputs: Value[]): Node {
    return this.add(proto.op, inputs, proto.attrs);
  }

  setOutput(name: string, v: Value): void {
    if (this.outputs.has(name)) {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', `graph output '${name}' is defined twice`, {
        expected: 'a unique output name',
        received: name,
      });
    }
    this.outputs.set(name, v);
  }

  /** The leaf nodes of one kind ('input' | 'param' | 'state' | 'const'), in order. */
  leaves(kind: 'input' | 'param' | 'state' | 'const'): Node[] {
    return this.nodes.filter((n) => n.op === kind);
  }

  /** For each value, the nodes that read it (in schedule order). */
  consumers(): Map<Value, Node[]> {
    const m = new Map<Value, Node[]>();
    for (const n of this.nodes) {
      for (const v of n.inputs) {
        const list = m.get(v);
        if (list) {
          if (list[list.length - 1] !== n) list.push(n);
        } else m.set(v, [n]);
      }
    }
    return m;
  }

  /** A readable listing, for `vit22b plan` and test failures. */
  dump(): string {
    return this.nodes
      .map((n) => {
        const outs = n.outputs.map(String).join(', ');
        const attrs = Object.keys(n.attrs).length ? ' ' + JSON.stringify(n.attrs) : '';
        return `${outs} = ${n.op}(${n.inputs.map((v) => `%${v.id}`).join(', ')})${attrs} [${n.phase}]`;
      })
      .join('\n');
  }
}
