/**
 * What every collective op carries: the mesh axis it runs over and that axis's size. Ranks are
 * fixed when a plan is partitioned (the plan is per mesh shape); the executor checks them against
 * the communicator of the device that runs the plan.
 */
import { Vit22bError } from '../../runtime/errors';
import type { MeshAxis } from '../sharding';
import type { Attrs } from '../op-def';
import type { TensorType } from '../types';
import { numberAttr, requireDType } from './check';

/** The ops (and kernels of the same names) that move data between devices. */
export const COLLECTIVE_OPS: ReadonlySet<string> = new Set(['all_gather', 'reduce_scatter', 'all_reduce', 'collective_permute']);

export interface CollectiveAttrs {
  axis: MeshAxis;
  ranks: number;
}

export function collectiveAttrs(op: string, attrs: Attrs): CollectiveAttrs {
  const axis = attrs.axis;
  if (axis !== 'data' && axis !== 'model') {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `${op}: axis must be 'data' or 'model'`, { expected: 'data | model', received: String(axis) });
  }
  const ranks = numberAttr(op, 'ranks', attrs.ranks, { integer: true, min: 1 });
  return { axis, ranks };
}

/** Collectives move f32 and bf16 (the activations and gradients of both precisions). */
export function requireCollectiveDType(op: string, t: TensorType): void {
  requireDType(op, 'x', t, ['f32', 'bf16']);
}
