/**
 * `vit22b eval`: top-1/top-5 accuracy and loss on the whole test set, of a checkpoint
 * (`--checkpoint DIR`: a step-<n> directory or the newest in a directory of them), or of the model
 * this process trains first: `--steps N` (default 0: the initialized model, i.e. chance) with every
 * `vit22b train` option.
 */
import { openDevice, type DeviceRequest } from '../runtime/device';
import { Vit22bError } from '../runtime/errors';
import { Trainer } from '../train/trainer';
import type { Command } from './commands';
import { describeSkippedCheckpoint, loadCheckpoint, resolveCheckpoint } from '../io/checkpoint';
import { parseOptions, usageError } from './parse-options';
import { TRAIN_OPTION_SPEC, TRAIN_OPTIONS_HELP, trainSetup } from './train-setup';

const EVAL_USAGE = `usage: vit22b eval [--checkpoint DIR | --steps N] [options of vit22b train]

Evaluates a model on the whole test set (top-1, top-5, loss): the checkpoint --checkpoint DIR
names (a step-<n> directory, or the newest committed one in DIR; give the model and data flags it
was trained with), or else a model trained in this process first for --steps N (default 0, the
freshly initialized model), with the options of vit22b train.
  --checkpoint DIR     evaluate this checkpoint
${TRAIN_OPTIONS_HELP}`;

const EVAL_OPTION_SPEC = { ...TRAIN_OPTION_SPEC, checkpoint: { type: 'string' } } as const;

export const evalCommand: Command = {
  name: 'eval',
  aliases: [],
  summary: 'evaluate a checkpoint (or a model trained first in the same run) on a test set',
  usage: EVAL_USAGE,
  async run(args, io) {
    const o = parseOptions(args, EVAL_OPTION_SPEC, EVAL_USAGE);
    if (o.help) {
      io.out(EVAL_USAGE + '\n');
      return 0;
    }
    const setup = await trainSetup({ ...o, steps: o.epochs === undefined ? (o.steps ?? '0') : undefined }, EVAL_USAGE, { steps: 0 });
    if (!setup.trainer.test) {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', 'vit22b eval needs a test set', { expected: 'synthetic, fashion-mnist or a folder with test/ inside', received: o.data ?? 'synthetic' });
    }
    if (o.checkpoint !== undefined && (o.steps !== undefined || o.epochs !== undefined || o.resume !== undefined)) {
      throw usageError('--checkpoint evaluates a saved model: give no --steps, --epochs or --resume with it', EVAL_USAGE, '--checkpoint with training options');
    }
    let trainSteps = o.epochs === undefined ? Number(o.steps ?? 0) : setup.trainer.steps;
    using device = openDevice({ device: setup.device as DeviceRequest });
    // The trainer runs only when there is something to train; its program is what gets evaluated.
    using trainer = new Trainer({ device, ...setup.trainer, test: undefined, steps: Math.max(trainSteps, 1) });
    if (o.checkpoint !== undefined) trainSteps = loadCheckpoint(resolveCheckpoint(o.checkpoint, (at, e) => io.err(describeSkippedCheckpoint(at, e) + '\n')), trainer.program, { config: setup.config, parametersOnly: true }).step;
    else if (trainSteps > 0) await trainer.run();
    const t0 = performance.now();
    const r = await trainer.evaluate(setup.trainer.test);
    const seconds = (performance.now() - t0) / 1e3;
    const result = { model: setup.modelName, data: setup.dataDescription, trainedSteps: trainSteps, ...r, seconds };
    if (o.json) io.out(JSON.stringify(result, null, 2) + '\n');
    else {
      const top5 = r.testTop5 !== undefined ? `, top-5 ${(100 * r.testTop5).toFixed(2)}%` : '';
      io.out(`${setup.modelName} after ${trainSteps} training steps: test accuracy ${(100 * r.testAccuracy).toFixed(2)}%${top5}, loss ${r.testLoss.toFixed(4)} (${r.examples} images, ${seconds.toFixed(1)} s)\n`);
    }
    return 0;
  },
};
