import type { Device } from '../device';
import type { DeviceTensor } from '../tensor';
import { requireShape, requireTensor, shapeError, shapeText } from './check';

/** x's dtype and its [B, T, D]. */
function tokens(x: DeviceTensor, op: string, name: string): ['f32' | 'bf16', number, number, number] {
  const { dtype } = requireTensor(x, op, name, ['f32', 'bf16']);
  if (x.shape.length !== 3) throw shapeError(`${op} ${name} must be [B, T, D]`, '[B, T, D]', shapeText(x.shape));
  const [b, t, d] = x.shape as [number, number, number];
  return [dtype, b, t, d];
}

/** x[b, t, d] += pos[t, d] in place; x [B, T, D] and pos [T, D], each f32 or bf16. */
export function addPositionEmbedding(device: Device, x: DeviceTensor, pos: DeviceTensor): void {
  const [dtype, b, t, d] = tokens(x, 'addPositionEmbedding', 'x');
  const p = requireTensor(pos, 'addPositionEmbedding', 'pos', ['f32', 'bf16']);
  requireShape(p, 'addPositionEmbedding', 'pos', [t, d]);
  device.native.launch('pos_embed_add', { dtype, posDtype: p.dtype, b, t, d, x: x.buffer, pos: pos.buffer });
}

/**
 * The position embedding's gradient: dpos[t, d] = sum over b of dx[b, t, d] (overwritten). The
 * gradient of x is dx itself.
 */
export function positionEmbeddingBackward(device: Device, dx: DeviceTensor, dpos: DeviceTensor): void {
  const [dtype, b, t, d] = tokens(dx, 'positionEmbeddingBackward', 'dx');
  const p = requireTensor(dpos, 'positionEmbeddingBackward', 'dpos', ['f32', 'bf16']);
  requireShape(p, 'positionEmbeddingBackward', 'dpos', [t, d]);
  device.native.launch('pos_embed_bwd', { dtype, posDtype: p.dtype, b, t, d, dx: dx.buffer, dpos: dpos.buffer });
}
