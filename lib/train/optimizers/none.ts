/**
 * Gradients only: the loss, the backward pass, every gradient in its persistent `grad/<name>`
 * buffer and the `gradNorm` output, and no update (parameters change only by Program.write). For
 * solvers that own their update on the host, such as the linear probe's L-BFGS, which evaluates an
 * objective and its gradient on the device. Needs no run scalars (no lr, no step).
 */
import type { OptimizerModule } from './optimizer';

export interface NoUpdateSpec {
  kind: 'none';
}

export const noUpdate: OptimizerModule<NoUpdateSpec> = {
  kind: 'none',
  update() {},
};
