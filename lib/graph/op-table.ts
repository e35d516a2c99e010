/**
 * THE op table: every op the graph knows, by name. Adding an op means a file in lib/graph/ops and
 * a line here.
 */
import { Vit22bError } from '../runtime/errors';
import type { OpDef } from './op-def';
import { OPS } from './ops';

const table = new Map<string, OpDef>(OPS.map((d) => [d.name, d]));

export function getOp(name: string): OpDef {
  const def = table.get(name);
  if (!def) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `unknown graph op '${name}'`, {
      expected: `one of ${[...table.keys()].sort().join(', ')}`,
      received: name,
    });
  }
  return def;
}

export function opNames(): string[] {
  return [...table.keys()].sort();
}
