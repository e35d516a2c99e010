/**
 * Whether a ViT config and a global batch fit a data x model mesh, checked before anything is
 * built so the error names the model's numbers (`heads 12 is not divisible by model=5`) instead of
 * a parameter's dimension deep inside the partitioning pass.
 */
import { Vit22bError } from '../runtime/errors';
import { checkMeshShape, type MeshShape } from '../runtime/mesh';
import type { ModelConfig } from './config';

function notDivisible(what: string, value: number, axis: string, n: number, field?: string): Vit22bError {
  return new Vit22bError('ERR_INVALID_CONFIG', `${what} ${value} is not divisible by ${axis}=${n}`, {
    expected: `a multiple of ${n}`,
    received: `${value}`,
    ...(field ? { field } : {}),
  });
}

/** Throws ERR_INVALID_CONFIG naming the first number the mesh does not divide. */
export function checkMeshFits(config: ModelConfig, mesh: MeshShape, batch?: number, limit?: number): MeshShape {
  const m = checkMeshShape(mesh, limit);
  const k = m.model;
  if (config.heads % k !== 0) throw notDivisible('heads', config.heads, 'model', k, 'heads');
  if (config.width % k !== 0) throw notDivisible('width', config.width, 'model', k, 'width');
  if (config.mlpDim % k !== 0) throw notDivisible('MLP width', config.mlpDim, 'model', k, 'mlpDim');
  if (batch !== undefined) {
    if (batch < m.data) {
      throw new Vit22bError('ERR_INVALID_CONFIG', `the global batch ${batch} is smaller than the mesh's data=${m.data}`, { expected: `a batch of at least ${m.data}`, received: `${batch}` });
    }
    if (batch % m.data !== 0) throw notDivisible('the global batch', batch, 'data', m.data);
  }
  return m;
}
