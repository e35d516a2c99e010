/** `vit22b fewshot`: big_vision-style few-shot accuracy (closed-form ridge) on frozen features. */
import { fewShot } from '../eval/few-shot';
import type { Command } from './commands';
import { FROZEN_OPTION_SPEC, FROZEN_OPTIONS_HELP, frozenFeatures } from './frozen-features';
import { finiteNumber, positiveInt } from './option-values';
import { parseOptions } from './parse-options';
import { numberList } from './probe-command';

const FEWSHOT_USAGE = `usage: vit22b fewshot --checkpoint DIR [--shots 1,5,10,25] [--seeds 3] [--data NAME] [options]

Few-shot accuracy as big_vision computes it: for each shot count k and seed, k training examples per
class; ridge regression (closed form) from their centered frozen features to centered one-hot
labels; argmax on the whole test split. Mean and standard deviation over the seeds. The Gram
matrices and the scores run on --device (float32 GEMM); the Cholesky solve is float64 on the host.
The ridge L2 is chosen per shot count from the powers of 2, 2^-4 .. 2^14, by the mean accuracy over
the seeds on 2,000 train images drawn by (seed, k) outside the support set (never on test).
${FROZEN_OPTIONS_HELP}
  --shots LIST         shot counts per class (default 1,5,10,25)
  --seeds N            draws per shot count (default 3)
  --l2 X               a fixed ridge regularization instead of the validation search
  --json               one JSON object on stdout`;

const FEWSHOT_OPTION_SPEC = { ...FROZEN_OPTION_SPEC, shots: { type: 'string' }, seeds: { type: 'string' }, l2: { type: 'string' } } as const;

export const fewshotCommand: Command = {
  name: 'fewshot',
  aliases: [],
  summary: 'few-shot accuracy (closed-form ridge regression) on frozen features of a checkpoint',
  usage: FEWSHOT_USAGE,
  async run(args, io) {
    const o = parseOptions(args, FEWSHOT_OPTION_SPEC, FEWSHOT_USAGE);
    if (o.help) {
      io.out(FEWSHOT_USAGE + '\n');
      return 0;
    }
    const shots = numberList(o.shots ?? '1,5,10,25', 'shots', FEWSHOT_USAGE, true);
    const seeds = positiveInt(o.seeds, 'seeds', 3, FEWSHOT_USAGE);
    const l2 = o.l2 === undefined ? undefined : finiteNumber(o.l2, 'l2', 1, FEWSHOT_USAGE, Number.MIN_VALUE);
    const f = await frozenFeatures(o, FEWSHOT_USAGE, { pixels: false });
    using device = f.device;
    const t0 = performance.now();
    const rows = fewShot(f.train, f.test, { classes: f.classes, shots, seeds, l2, device });
    const solveSeconds = (performance.now() - t0) / 1e3;
    if (o.json) {
      io.out(JSON.stringify({ model: f.modelName, data: f.dataDescription, checkpoint: f.checkpoint, step: f.step, features: f.train.dim, l2: l2 ?? 'validation', seeds, fewShot: rows, featureSeconds: f.seconds, solveSeconds }, null, 2) + '\n');
    } else {
      const how = l2 === undefined ? 'ridge L2 chosen on held-out train' : `ridge L2 ${l2}`;
      io.out(`${f.modelName} at step ${f.step} (${f.checkpoint}), ${f.dataDescription}: ${f.train.dim} features, ${how}, ${seeds} seeds\n`);
      for (const r of rows) io.out(`${r.shots}-shot: test accuracy ${(100 * r.mean).toFixed(2)}% +- ${(100 * r.std).toFixed(2)} (L2 ${r.l2})\n`);
      io.out(`(features ${f.seconds.toFixed(1)} s, solver on ${device.name} ${solveSeconds.toFixed(1)} s)\n`);
    }
    return 0;
  },
};
