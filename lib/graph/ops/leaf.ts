/**
 * The leaves: `input` (fed by each run), `param` (trainable, persistent), `state` (persistent, not
 * trained) and `const` (a persistent fill). Their attrs carry the type; none emits a kernel: inputs
 * are uploaded by the run itself and persistent values are initialized when a program is compiled.
 */
import { assertDType } from '../../runtime/dtype';
import { Vit22bError } from '../../runtime/errors';
import type { InitDistribution } from '../../runtime/ops/random';
import type { Attrs, OpDef } from '../op-def';
import { checkShape, type TensorType } from '../types';
import { requireArity } from './check';

/**
 * How a persistent leaf is initialized: a random_init distribution (lib/runtime/ops/random.ts), or
 * values computed on the host (fixed sin-cos position embeddings), uploaded at compile time.
 */
export type InitSpec = InitDistribution | { dist: 'data'; values: Float32Array };

export interface LeafAttrs {
  name: string;
  shape: readonly number[];
  dtype: string;
  init?: InitSpec;
  /** const only: the fill value, or the values themselves (f32, row-major). */
  value?: number;
  data?: Float32Array;
  /** How a mesh splits each dimension (params: read by passes/partition.ts). */
  sharding?: readonly (string | null)[];
  /**
   * Set by passes/partition.ts on a per-device leaf: the global tensor it is this device's slice of
   * (Program initializes, reads and writes the global tensor through it).
   */
  layout?: { shape: readonly number[]; dims: readonly unknown[] };
}

function leaf(kind: 'input' | 'param' | 'state' | 'const'): OpDef {
  return {
    name: kind,
    leaf: kind,
    infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
      requireArity(kind, inputs, 0);
      const a = attrs as unknown as LeafAttrs;
      const shape = checkShape(a.shape, `${kind} '${a.name}' shape`);
      if (a.sharding !== undefined && (!Array.isArray(a.sharding) || a.sharding.length !== shape.length)) {
        throw new Vit22bError('ERR_INVALID_ARGUMENT', `${kind} '${a.name}' sharding must name an axis (or null) per dimension`, {
          expected: `${shape.length} entries`,
          received: JSON.stringify(a.sharding),
        });
      }
      return [{ shape, dtype: assertDType(a.dtype, `${kind} '${a.name}' dtype`), ...(a.sharding ? { sharding: a.sharding } : {}) }];
    },
    lower(): void {},
  };
}

export const inputOp = leaf('input');
export const paramOp = leaf('param');
export const stateOp = leaf('state');
export const constOp = leaf('const');
