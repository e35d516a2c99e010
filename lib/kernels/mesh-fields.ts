/** Fields and rules the collective kernels (all_gather, reduce_scatter, ...) share. */
import { f, type Check } from './declare';

/** The mesh axis a collective runs over (lib/kernels/enums.ts MeshAxis). */
export const AXIS = f.enum('MeshAxis', ['data', 'model'], 'the mesh axis: its devices take part');

/** `ranks` counts devices: at least one. */
export const RANKS_RULE: Check = {
  holds: 'ranks >= 1',
  message: 'ranks must be at least 1',
  expected: 'ranks >= 1 (the size of the mesh axis)',
  received: '${ranks}',
  example: () => ({ ranks: 0 }),
};
