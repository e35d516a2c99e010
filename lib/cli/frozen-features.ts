/**
 * What `vit22b probe` and `vit22b fewshot` share: the options, loading the checkpoint into a
 * forward program, extracting train and test features in batches, and --features-out.
 */
import { DataLoader } from '../data/loader';
import { compileFeatureProgram, extractFeatures, extractPixels, type Features } from '../eval/features';
import { describeSkippedCheckpoint, loadCheckpoint, resolveCheckpoint } from '../io/checkpoint';
import { checkOutputFile } from '../io/output-path';
import { writeSafetensors } from '../io/safetensors';
import { openDevice, type Device, type DeviceRequest } from '../runtime/device';
import { Vit22bError } from '../runtime/errors';
import { parseOptions, usageError } from './parse-options';
import { TRAIN_OPTION_SPEC, trainSetup } from './train-setup';

export const FROZEN_OPTION_SPEC = { ...TRAIN_OPTION_SPEC, checkpoint: { type: 'string' }, 'features-out': { type: 'string' } } as const;

export const FROZEN_OPTIONS_HELP = `  --checkpoint DIR     the checkpoint (a step-<n> directory, or the newest in DIR); give the model
                       and data flags it was trained with (--preset/--config, --data, --data-dir)
  --data NAME          synthetic (default) | fashion-mnist | a folder with train/ and test/
  --data-dir DIR       where the data set is (or goes)
  --batch N            images per forward pass (default 128)
  --device KIND        auto (default) | cpu | cuda
  --features-out FILE  also write the features (F32 train_features [N, D], test_features) and
                       labels (I32 train_labels, test_labels) to FILE (safetensors)`;

export type FrozenArgs = ReturnType<typeof parseOptions<typeof FROZEN_OPTION_SPEC>>;

export interface FrozenFeatures {
  modelName: string;
  dataDescription: string;
  checkpoint: string;
  step: number;
  classes: number;
  train: Features;
  test: Features;
  /** The normalized pixels, when asked for (the raw-pixel baseline). */
  pixels?: { train: Features; test: Features };
  seconds: number;
  /** The device the features came from, left open for the solvers: the caller disposes it. */
  device: Device;
}

export async function frozenFeatures(o: FrozenArgs, usage: string, options: { pixels: boolean }): Promise<FrozenFeatures> {
  if (o.checkpoint === undefined) throw usageError('--checkpoint is required', usage, 'missing');
  if (o.steps !== undefined || o.epochs !== undefined || o.resume !== undefined) {
    throw usageError('the features come from a saved model: give no --steps, --epochs or --resume', usage, '--checkpoint with training options');
  }
  const t0 = performance.now();
  const setup = await trainSetup({ ...o, steps: '0' }, usage, { steps: 0 });
  const trainSource = setup.trainer.train;
  const testSource = setup.trainer.test;
  if (!(trainSource instanceof DataLoader) || !(testSource instanceof DataLoader)) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', 'frozen features need a data set with a test split', { expected: 'synthetic, fashion-mnist or a folder with test/ inside', received: o.data ?? 'synthetic' });
  }
  // Before any feature is computed: a --features-out that cannot be written fails now.
  if (o['features-out'] !== undefined) checkOutputFile(o['features-out']);
  const batch = testSource.batch;
  // In order, unaugmented, and both normalized with the training set's statistics.
  const normalize = { mean: trainSource.dataset.mean, std: trainSource.dataset.std };
  const loaders = [trainSource.dataset, testSource.dataset].map((ds) => new DataLoader(ds, { batch: Math.min(batch, ds.size), seed: 0, shuffle: false, dropLast: false, normalize }));
  const device = openDevice({ device: setup.device as DeviceRequest });
  try {
    using program = compileFeatureProgram(device, setup.config, loaders[0]!.batch);
    const dir = resolveCheckpoint(o.checkpoint, (at, e) => process.stderr.write(describeSkippedCheckpoint(at, e) + '\n'));
    const { step } = loadCheckpoint(dir, program, { config: setup.config, parametersOnly: true });
    const train = await extractFeatures(program, loaders[0]!, setup.config.width);
    const test = await extractFeatures(program, loaders[1]!, setup.config.width);
    const pixels = options.pixels ? { train: await extractPixels(loaders[0]!), test: await extractPixels(loaders[1]!) } : undefined;
    if (o['features-out'] !== undefined) {
      writeSafetensors(
        o['features-out'],
        {
          train_features: { dtype: 'F32', shape: [train.n, train.dim], data: train.x },
          train_labels: { dtype: 'I32', shape: [train.n], data: train.labels },
          test_features: { dtype: 'F32', shape: [test.n, test.dim], data: test.x },
          test_labels: { dtype: 'I32', shape: [test.n], data: test.labels },
        },
        { checkpoint: dir, step: String(step), model: setup.modelName, data: setup.dataDescription },
      );
    }
    const seconds = (performance.now() - t0) / 1e3;
    return { modelName: setup.modelName, dataDescription: setup.dataDescription, checkpoint: dir, step, classes: setup.config.numClasses, train, test, pixels, seconds, device };
  } catch (e) {
    device.dispose();
    throw e;
  }
}
