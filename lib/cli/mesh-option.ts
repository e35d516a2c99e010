/**
 * --mesh data=T,model=K (either axis may be left out: --mesh data=4, --mesh model=2): a mesh of
 * virtual devices in this process (lib/graph/sharding.ts). Bad text is ERR_USAGE with the usage.
 */
import { checkMeshShape, type MeshShape } from '../runtime/mesh';
import { usageError } from './parse-options';

export const MESH_HELP = '  --mesh data=T,model=K  run on a data x model mesh of T*K virtual CPU devices (default: one device)';

export function parseMesh(value: string | undefined, usage: string, limit?: number): MeshShape | undefined {
  if (value === undefined) return undefined;
  const sizes: Record<string, number> = {};
  for (const part of value.split(',')) {
    const m = /^\s*(data|model)\s*=\s*(\d+)\s*$/.exec(part);
    if (!m || m[1]! in sizes) throw usageError('--mesh takes data=T,model=K (integers >= 1, each axis once)', usage, value);
    sizes[m[1]!] = Number(m[2]);
  }
  try {
    return checkMeshShape(sizes, limit);
  } catch (e) {
    throw usageError(`--mesh: ${(e as Error).message}`, usage, value);
  }
}
