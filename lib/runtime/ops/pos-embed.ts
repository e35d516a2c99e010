import type { Device } from '../device';
import type { DeviceTensor } from '../tensor';
import { requireShape, requireTensor, shapeError, shapeText } from './check';

function tokens(x: DeviceTensor, op: string, name: string): [number, number, number] {
  requireTensor(x, op, name, ['f32', 'bf16']);
  if (x.shape.length !== 3) throw shapeError(`${op} ${name} must be [B, T, D]`, '[B, T, D]', shapeText(x.shape));
  return x.shape as [number, number, number];
}

/** x[b, t, d] += pos[t, d] in place; x [B, T, D] and pos [T, D], each f32 or bf16. */
export function addPositionEmbedding(device: Device, x: DeviceTensor, pos: DeviceTensor): void {
  const [b, t, d] = tokens(x, 'addPositionEmbedding', 'x');
  requireShape(requireTensor(pos, 'addPositionEmbedding', 'pos', ['f32', 'bf16']), 'addPositionEmbedding', 'pos', [t, d]);
  device.native.launch('pos_embed_add', { dtype: x.dtype, posDtype: pos.dtype, b, t, d, x: x.buffer, pos: pos.buffer });
}

/**
 * The position embedding's gradient: dpos[t, d] = sum over b of dx[b, t, d] (overwritten). The
 * gradient of x is dx itself.
 */
export function positionEmbeddingBackward(device: Device, dx: DeviceTensor, dpos: DeviceTensor): void {
  const [b, t, d] = tokens(dx, 'positionEmbeddingBackward', 'dx');
  requireShape(requireTensor(dpos, 'positionEmbeddingBackward', 'dpos', ['f32', 'bf16']), 'positionEmbeddingBackward', 'dpos', [t, d]);
  device.native.launch('pos_embed_bwd', { dtype: dx.dtype, posDtype: dpos.dtype, b, t, d, dx: dx.buffer, dpos: dpos.buffer });
}
