/**
 * The logistic-regression objective with its data term on a device, through the graph compiler:
 * a program whose features x [n, dim] f32 and labels [n] i32 are persistent state written once
 * (not re-uploaded per evaluation), with parameters w [dim, classes] and b [classes], loss the mean
 * softmax cross-entropy of dense(x, w, b), compiled with the gradients-only optimizer
 * (`{ kind: 'none' }`). An evaluation writes w and b (f32 from the float64 iterate), runs, and
 * reads the loss and grad/w, grad/b; the L2 term (l2 / 2) ||W||^2 (not on the bias) and its
 * gradient are added in float64 on the host, so one compiled program serves every L2 of a grid.
 *
 * The value is float32-accurate: `epsilon` tells L-BFGS (lbfgs.ts) how much noise to expect.
 * The CPU kernels sum the per-example losses in double and round once, so the noise is a few f32
 * ulps of the per-example terms plus the rounding of the iterate to f32; 3e-7 is a few ulps.
 */
import { GraphBuilder } from '../graph/builder';
import { compile } from '../graph/compile';
import type { Program } from '../graph/program';
import type { Device } from '../runtime/device';
import { Vit22bError } from '../runtime/errors';
import type { Objective } from './lbfgs';
import { checkL2 } from './logistic';

export const DEVICE_OBJECTIVE_EPSILON = 3e-7;

export class DeviceLogisticData implements Disposable {
  private readonly program: Program;
  private readonly w: Float32Array;
  private readonly b: Float32Array;
  /** Evaluations run (for reports and tests). */
  evaluations = 0;

  constructor(
    device: Device,
    x: Float32Array,
    labels: Int32Array,
    readonly n: number,
    readonly dim: number,
    readonly classes: number,
  ) {
    if (x.length !== n * dim || labels.length !== n || n < 1 || dim < 1 || classes < 2) {
      throw new Vit22bError('ERR_SHAPE_MISMATCH', 'device logistic: x must be [n, dim] f32 with n labels and >= 2 classes', { expected: `${n * dim} values, ${n} labels`, received: `${x.length} values, ${labels.length} labels, ${classes} classes` });
    }
    const g = new GraphBuilder();
    const logits = g.dense(g.state('x', [n, dim]), g.param('w', [dim, classes]), g.param('b', [classes]));
    g.output('loss', g.softmaxCrossEntropy(logits, g.state('labels', [n], { dtype: 'i32' })));
    this.program = compile(g.graph, { device, train: { loss: 'loss', optimizer: { kind: 'none' }, checkFinite: false } });
    try {
      this.program.write('x', x);
      this.program.write('labels', labels);
    } catch (e) {
      this.program.dispose();
      throw e;
    }
    this.w = new Float32Array(dim * classes);
    this.b = new Float32Array(classes);
  }

  /** f(W, b) = mean cross-entropy (device, f32) + (l2 / 2) ||W||^2 (host, f64), packed [W, b]. */
  objective(l2: number): Objective {
    checkL2(l2);
    const wSize = this.dim * this.classes;
    return {
      size: wSize + this.classes,
      epsilon: DEVICE_OBJECTIVE_EPSILON,
      evaluate: async (params, grad) => {
        for (let t = 0; t < wSize; ++t) this.w[t] = params[t]!;
        for (let c = 0; c < this.classes; ++c) this.b[c] = params[wSize + c]!;
        this.program.write('w', this.w);
        this.program.write('b', this.b);
        const out = await this.program.run({});
        this.evaluations++;
        const gw = this.program.read('grad/w') as Float32Array;
        const gb = this.program.read('grad/b') as Float32Array;
        let reg = 0;
        for (let t = 0; t < wSize; ++t) {
          reg += params[t]! * params[t]!;
          grad[t] = gw[t]! + l2 * params[t]!;
        }
        for (let c = 0; c < this.classes; ++c) grad[wSize + c] = gb[c]!;
        return (out.loss as Float32Array)[0]! + 0.5 * l2 * reg;
      },
    };
  }

  dispose(): void {
    this.program.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
