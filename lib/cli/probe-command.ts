/**
 * `vit22b probe`: the linear probe on a checkpoint's frozen features, beside the same solver on
 * raw pixels (the baseline the features must beat), both on the test split.
 */
import { DEFAULT_L2_GRID, linearProbe, type LinearProbeResult } from '../eval/linear-probe';
import type { Command } from './commands';
import { FROZEN_OPTION_SPEC, FROZEN_OPTIONS_HELP, frozenFeatures } from './frozen-features';
import { positiveInt } from './option-values';
import { parseOptions, usageError } from './parse-options';

const PROBE_USAGE = `usage: vit22b probe --checkpoint DIR [--data NAME] [--data-dir DIR] [--batch N] [options]

Linear probe: multinomial logistic regression with L2 (L-BFGS) on the checkpoint's frozen
pre-logits features of the train split, standardized; L2 chosen from a grid on a held-out 10% of
train; test accuracy reported. The same solver on the raw (normalized) pixels is the baseline.
The objective's data term runs on --device through the library's kernels (float32; the L-BFGS
iterate, the L2 term and the scoring stay float64 on the host).
${FROZEN_OPTIONS_HELP}
  --l2 LIST            L2 grid, comma-separated (default ${DEFAULT_L2_GRID.join(',')})
  --max-iter N         L-BFGS iterations per fit of the probe (default 200)
  --pixel-max-iter N   L-BFGS iterations per fit of the raw-pixel baseline (default 100: a 784-wide
                       fit costs ~12x a 64-wide one per iteration, and on Fashion-MNIST 100
                       iterations give the accuracy of 200 within 0.1%)
  --skip-pixels        skip the raw-pixel baseline
  --json               one JSON object on stdout`;

const PROBE_OPTION_SPEC = { ...FROZEN_OPTION_SPEC, l2: { type: 'string' }, 'max-iter': { type: 'string' }, 'pixel-max-iter': { type: 'string' }, 'skip-pixels': { type: 'boolean' } } as const;

/** A comma-separated list of positive numbers. */
export function numberList(value: string, name: string, usage: string, integer: boolean): number[] {
  const xs = value.split(',').map((s) => Number(s.trim()));
  if (xs.length === 0 || xs.some((x) => !(x > 0) || !Number.isFinite(x) || (integer && !Number.isSafeInteger(x)))) {
    throw usageError(`--${name} must be a comma-separated list of positive ${integer ? 'integers' : 'numbers'}`, usage, value);
  }
  return xs;
}

function line(name: string, r: LinearProbeResult): string {
  return `${name}: test accuracy ${(100 * r.testAccuracy).toFixed(2)}% (train ${(100 * r.trainAccuracy).toFixed(2)}%, L2 ${r.l2}, ${r.iterations} iterations${r.converged ? '' : ', not converged'}, ${r.evaluations} evaluations in all)\n`;
}

export const probeCommand: Command = {
  name: 'probe',
  aliases: [],
  summary: 'linear probe on frozen features of a checkpoint, beside logistic regression on pixels',
  usage: PROBE_USAGE,
  async run(args, io) {
    const o = parseOptions(args, PROBE_OPTION_SPEC, PROBE_USAGE);
    if (o.help) {
      io.out(PROBE_USAGE + '\n');
      return 0;
    }
    const l2Grid = o.l2 !== undefined ? numberList(o.l2, 'l2', PROBE_USAGE, false) : DEFAULT_L2_GRID;
    const maxIter = positiveInt(o['max-iter'], 'max-iter', 200, PROBE_USAGE);
    const pixelMaxIter = positiveInt(o['pixel-max-iter'], 'pixel-max-iter', 100, PROBE_USAGE);
    const f = await frozenFeatures(o, PROBE_USAGE, { pixels: !o['skip-pixels'] });
    using device = f.device;
    const t0 = performance.now();
    const options = { classes: f.classes, l2Grid, maxIter, device };
    const probe = await linearProbe(f.train, f.test, options);
    const probeSeconds = (performance.now() - t0) / 1e3;
    const pixels = f.pixels ? await linearProbe(f.pixels.train, f.pixels.test, { ...options, maxIter: pixelMaxIter }) : undefined;
    const solveSeconds = (performance.now() - t0) / 1e3;
    const pixelSeconds = solveSeconds - probeSeconds;
    if (o.json) {
      const result = { model: f.modelName, data: f.dataDescription, checkpoint: f.checkpoint, step: f.step, train: f.train.n, test: f.test.n, features: f.train.dim, probe, pixels, featureSeconds: f.seconds, solveSeconds, probeSeconds, pixelSeconds: pixels ? pixelSeconds : undefined };
      io.out(JSON.stringify(result, null, 2) + '\n');
    } else {
      io.out(`${f.modelName} at step ${f.step} (${f.checkpoint}), ${f.dataDescription}: ${f.train.n} train / ${f.test.n} test images, ${f.train.dim} features\n`);
      io.out(line('linear probe', probe));
      if (pixels) io.out(line(`raw pixels (${f.pixels!.train.dim})`, pixels));
      const split = pixels ? `: probe ${probeSeconds.toFixed(1)} s, pixels ${pixelSeconds.toFixed(1)} s` : '';
      io.out(`(features ${f.seconds.toFixed(1)} s, solver on ${probe.solver} ${solveSeconds.toFixed(1)} s${split})\n`);
    }
    return 0;
  },
};
