/**
 * The options `vit22b train` and `vit22b eval` share, and what they turn into: a model config fitted
 * to the data, the data loaders and the Trainer's options.
 */
import { MESH_HELP, parseMesh } from './mesh-option';
import { chooseComm, COMM_HELP, type CommChoice } from './comm-option';
import { OVERLAP_MODES, type OverlapMode } from '../graph/passes/streams';
import { checkMeshFits } from '../model/mesh-fit';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataLoader } from '../data';
import type { Precision } from '../graph/builder';
import { MANIFEST_FILE } from '../io/checkpoint-manifest';
import type { RematPolicy } from '../graph/passes/remat';
import type { OptimizerSpec } from '../graph/training-step';
import { validateConfig, type ModelConfig } from '../model';
import { Vit22bError } from '../runtime/errors';
import type { ProgressMode } from '../train/progress';
import { SCHEDULE_KINDS, type ScheduleKind } from '../train/schedules';
import type { TrainerOptions } from '../train/trainer';
import { vitModel } from '../train/vit-model';
import { fineTuneOverrides } from '../train/finetune-overrides';
import type { ParamOverrides } from '../graph/param-overrides';
import { loadData } from './data-option';
import { resolveModel } from './model-option';
import { choice, finiteNumber, positiveInt } from './option-values';
import { usageError } from './parse-options';

export const TRAIN_OPTION_SPEC = {
  preset: { type: 'string' },
  config: { type: 'string' },
  data: { type: 'string' },
  'data-dir': { type: 'string' },
  steps: { type: 'string' },
  epochs: { type: 'string' },
  batch: { type: 'string' },
  accumulate: { type: 'string' },
  lr: { type: 'string' },
  optimizer: { type: 'string' },
  'weight-decay': { type: 'string' },
  schedule: { type: 'string' },
  warmup: { type: 'string' },
  clip: { type: 'string' },
  'label-smoothing': { type: 'string' },
  augment: { type: 'boolean' },
  device: { type: 'string' },
  precision: { type: 'string' },
  remat: { type: 'string' },
  mesh: { type: 'string' },
  comm: { type: 'string' },
  'comm-timeout': { type: 'string' },
  zero: { type: 'string' },
  trace: { type: 'string' },
  overlap: { type: 'string' },
  out: { type: 'string' },
  seed: { type: 'string' },
  'eval-every': { type: 'string' },
  'skip-non-finite': { type: 'boolean' },
  progress: { type: 'string' },
  'save-every': { type: 'string' },
  keep: { type: 'string' },
  'checkpoint-dir': { type: 'string' },
  resume: { type: 'string' },
  extend: { type: 'boolean' },
  init: { type: 'string' },
  'weights-format': { type: 'string' },
  'head-lr-mult': { type: 'string' },
  'layer-decay': { type: 'string' },
  freeze: { type: 'string' },
  normalize: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export type TrainArgs = { [K in keyof typeof TRAIN_OPTION_SPEC]?: (typeof TRAIN_OPTION_SPEC)[K]['type'] extends 'boolean' ? boolean : string };

export const TRAIN_OPTIONS_HELP = `  --preset NAME        model preset (default tiny; vit22b info --model NAME shows one)
  --config FILE        model config as JSON: a whole config, or { "preset": NAME, ...overrides }
  --data KIND          synthetic (default: built-in shapes, no files) | fashion-mnist | a folder
                       of class sub-folders (with train/ and test/ inside for a test set)
  --data-dir DIR       where fashion-mnist is looked for first
  --steps N            optimizer steps (default: 200 on synthetic, else --epochs 8)
  --epochs E           passes over the training set instead of --steps
  --batch B            images per step (default 128)
  --accumulate K       split each step into K micro-batches of B/K (gradient accumulation)
  --lr LR              peak learning rate (default 1e-3 on synthetic, else 2e-3)
  --optimizer NAME     adamw (default) | adafactor (big_vision's: factored second moment, bf16
                       momentum, head weight decay 100x the body's, as in the paper)
  --weight-decay WD    decoupled, times the learning rate (default 1e-4 adamw, 0.03 adafactor)
  --schedule NAME      cosine (default) | rsqrt | linear | constant, after a linear warmup
  --warmup N           warmup steps (default 5% of the steps)
  --clip NORM          global gradient-norm clipping (default 1; 0 turns it off)
  --label-smoothing E  (default 0)
  --augment            random crop (pad 2) and horizontal flip of training images
  --device KIND        auto (default) | cpu | cuda
  --precision P        fp32 (default) | bf16-mixed
  --remat POLICY       none (default) | selective | block
${MESH_HELP}
${COMM_HELP}
  --zero 0|3           3: ZeRO-3 over the mesh's data axis (weights, gradients, AdamW state split)
  --overlap none|streams|ring|bidirectional  streams: collectives on a communication stream of
                       their own; ring|bidirectional: also the collective matmul (with --mesh)
  --trace FILE         write the second step's timeline (Chrome trace JSON: Perfetto, chrome://tracing)
  --seed S             parameters, data order and augmentation (default 0)
  --eval-every N       evaluate on the whole test set every N steps (always at the end; default
                       once an epoch on real data)
  --skip-non-finite    skip (and count) a batch whose loss or gradient is NaN/inf instead of stopping
  --out DIR            append metrics to DIR/metrics.jsonl
  --progress MODE      auto (a bar on a terminal, else lines; default) | bar | lines | none
  --save-every N       save a checkpoint every N steps and at the end, as DIR/step-<n> where
                       DIR is --checkpoint-dir, else --resume's DIR, else OUT/checkpoints
  --keep N             keep only the newest N checkpoints (default: all)
  --checkpoint-dir DIR where checkpoints go
  --resume DIR         continue from the newest committed checkpoint in DIR (or a step-<n>
                       directory): the same data order and schedule, from step n + 1
  --extend             with --resume and a larger --steps: continue a finished (or stopped) run
                       for more steps; the schedule is re-derived for the new total and the data
                       order continues. A new run: not bit-exact with a longer original one
  --init FILE          start from pretrained weights (fresh optimizer state): a checkpoint
                       directory or safetensors file; another class count re-initializes the
                       classifier, another image size resamples the position embeddings
  --weights-format F   native (default: our names) | timm (a VisionTransformer state dict)
  --head-lr-mult M     the classifier's learning rate is M x --lr (default 1)
  --layer-decay D      layer-wise decay: block i of L learns at D^(L-i) x --lr, embeddings D^(L+1)
  --freeze WHAT        none (default) | body: train the classifier only (the rest: lr 0, no decay)
  --normalize N        data (default: the training set's mean and std) | imagenet (timm's
                       0.485,0.456,0.406 / 0.229,0.224,0.225) | inception (0.5 / 0.5): use the
                       pretrained weights' recipe
  --json               print the final summary as one JSON object on stdout`;

export interface TrainSetup {
  modelName: string;
  config: ModelConfig;
  dataDescription: string;
  trainer: Omit<TrainerOptions, 'device'>;
  /** The mesh's backend and this process's place in its job. */
  comm: CommChoice;
  /** Micro-batch size (the loader's batch). */
  microBatch: number;
}

export async function trainSetup(o: TrainArgs, usage: string, defaults: { steps?: number } = {}): Promise<TrainSetup & { device: string }> {
  const model = resolveModel(o.preset, o.config);
  const seed = positiveInt(o.seed, 'seed', 0, usage, 0);
  const dataKind = o.data ?? 'synthetic';
  const data = await loadData({ data: dataKind, dataDir: o['data-dir'], seed }, model.config);
  const config = fitToData(model.config, data.train.imageShape, data.train.numClasses, model.name);
  const batch = positiveInt(o.batch, 'batch', 128, usage);
  const k = positiveInt(o.accumulate, 'accumulate', 1, usage);
  if (batch % k !== 0) throw usageError(`--batch (${batch}) must be a multiple of --accumulate (${k})`, usage, `${batch} / ${k}`);
  const microBatch = batch / k;
  const normalize = normalization(choice(o.normalize, 'normalize', NORMALIZE_KINDS, 'data', usage) as NormalizeKind, data.train, usage);
  const train = new DataLoader(data.train, {
    batch: microBatch,
    seed,
    shuffle: true,
    dropLast: true,
    augment: o.augment ? { crop: { padding: 2 }, flip: true } : {},
    normalize,
  });
  // The test set is normalized with the training set's statistics and read in order, whole.
  const test = data.test ? new DataLoader(data.test, { batch, seed, shuffle: false, dropLast: false, lastBatch: 'short', normalize }) : undefined;
  if (o.steps !== undefined && o.epochs !== undefined) throw usageError('give --steps or --epochs, not both', usage, `--steps ${o.steps} --epochs ${o.epochs}`);
  const stepsPerEpoch = Math.max(1, Math.floor(train.stepsPerEpoch / k));
  const epochs = o.epochs !== undefined ? finiteNumber(o.epochs, 'epochs', 1, usage, 1e-9) : undefined;
  const steps =
    epochs !== undefined
      ? Math.max(1, Math.round(epochs * stepsPerEpoch))
      : positiveInt(o.steps, 'steps', defaults.steps ?? (dataKind === 'synthetic' ? 200 : DATASET_EPOCHS * stepsPerEpoch), usage, defaults.steps === 0 ? 0 : 1);
  const optimizerKind = choice(o.optimizer, 'optimizer', ['adamw', 'adafactor'], 'adamw', usage);
  const wd = finiteNumber(o['weight-decay'], 'weight-decay', optimizerKind === 'adamw' ? 1e-4 : 0.03, usage, 0);
  const baseOverrides: ParamOverrides = optimizerKind === 'adamw' ? {} : { 'head/w': { weightDecay: 100 * wd } };
  const overrides = fineTuneOverrides(config, {
    headLrMult: o['head-lr-mult'] !== undefined ? finiteNumber(o['head-lr-mult'], 'head-lr-mult', 1, usage, 0) : undefined,
    layerDecay: o['layer-decay'] !== undefined ? finiteNumber(o['layer-decay'], 'layer-decay', 1, usage, 1e-9, 1) : undefined,
    freeze: choice(o.freeze, 'freeze', ['none', 'body'], 'none', usage) as 'none' | 'body',
  }, baseOverrides);
  const optimizer: OptimizerSpec = { kind: optimizerKind as 'adamw' | 'adafactor', weightDecay: wd, ...(Object.keys(overrides).length ? { overrides } : {}) };
  if (o['weights-format'] !== undefined && o.init === undefined) throw usageError('--weights-format needs --init', usage, `--weights-format ${o['weights-format']}`);
  if (o.extend && o.resume === undefined) throw usageError('--extend needs --resume (the run to extend)', usage, '--extend');
  const init = o.init !== undefined ? { file: o.init, format: choice(o['weights-format'], 'weights-format', ['native', 'timm'], 'native', usage) as 'native' | 'timm' } : undefined;
  const schedule = choice(o.schedule, 'schedule', SCHEDULE_KINDS, 'cosine', usage) as ScheduleKind;
  const clip = finiteNumber(o.clip, 'clip', 1, usage, 0);
  const mesh = parseMesh(o.mesh, usage);
  const comm = chooseComm(o, mesh, usage);
  // Rank 0 speaks for the job: the others log nothing, write no metrics and no trace (their errors
  // still reach stderr, prefixed with their rank by the train command).
  const speaker = comm.comm === 'local' || comm.launch.rank === 0;
  return {
    comm,
    device: choice(o.device, 'device', ['auto', 'cpu', 'cuda'], 'auto', usage),
    modelName: model.name,
    config,
    dataDescription: data.description,
    microBatch,
    trainer: {
      model: vitModel(config, { labelSmoothing: finiteNumber(o['label-smoothing'], 'label-smoothing', 0, usage, 0, 1) }),
      train,
      test,
      steps: Math.max(steps, 1),
      optimizer,
      schedule: {
        kind: schedule,
        lr: finiteNumber(o.lr, 'lr', dataKind === 'synthetic' ? 1e-3 : DATASET_LR, usage, 0),
        warmup: positiveInt(o.warmup, 'warmup', Math.round(0.05 * steps), usage, 0),
      },
      clipNorm: clip > 0 ? clip : undefined,
      precision: choice(o.precision, 'precision', ['fp32', 'bf16-mixed'], 'fp32', usage) as Precision,
      remat: choice(o.remat, 'remat', ['none', 'selective', 'block'], 'none', usage) as RematPolicy,
      ...(mesh ? { mesh: checkMeshFits(config, mesh, microBatch) } : {}),
      ...(mesh ? { comm: comm.comm, commTimeoutMs: comm.timeoutMs } : {}),
      ...(o.zero !== undefined ? { zero: Number(choice(o.zero, 'zero', ['0', '3'], '0', usage)) as 0 | 3 } : {}),
      ...(o.trace !== undefined && speaker ? { trace: { file: o.trace } } : {}),
      ...(o.overlap !== undefined ? { overlap: choice(o.overlap, 'overlap', [...OVERLAP_MODES], 'none', usage) as OverlapMode } : {}),
      seed,
      accumulation: k,
      // On real data, evaluate once an epoch so the curve is in the log and metrics.jsonl.
      evalEvery: positiveInt(o['eval-every'], 'eval-every', dataKind === 'synthetic' ? 0 : stepsPerEpoch, usage, 0),
      out: speaker ? o.out : undefined,
      onNonFinite: o['skip-non-finite'] ? 'skip' : 'stop',
      progress: speaker ? (choice(o.progress, 'progress', ['auto', 'bar', 'lines', 'none'], 'auto', usage) as ProgressMode) : 'none',
      runInfo: { model: model.name, data: data.description, ...(o.resume !== undefined ? { resume: o.resume } : {}), ...(init ? { init: init.file, initFormat: init.format } : {}) },
      ...checkpointOptions(o, usage),
      ...(o.extend ? { extend: true } : {}),
      ...(init ? { init } : {}),
      // What `vit22b predict --checkpoint` needs to read images and name classes like this run.
      task: { classNames: data.train.classNames ?? Array.from({ length: data.train.numClasses }, (_, i) => String(i)), normalize: normalize ?? { mean: [...data.train.mean], std: [...data.train.std] } },
      modelConfig: config,
    },
  };
}

/** --save-every, --keep, --checkpoint-dir and --resume as Trainer options. */
function checkpointOptions(o: TrainArgs, usage: string): Partial<TrainerOptions> {
  const saveEvery = positiveInt(o['save-every'], 'save-every', 0, usage, 0);
  const keep = o.keep !== undefined ? positiveInt(o.keep, 'keep', 1, usage, 1) : undefined;
  // --resume names a directory of checkpoints or one step-<n> inside one: new saves go beside it.
  const resumeDir = o.resume !== undefined && fs.existsSync(path.join(o.resume, MANIFEST_FILE)) ? path.dirname(path.resolve(o.resume)) : o.resume;
  const checkpointDir = o['checkpoint-dir'] ?? resumeDir ?? (o.out !== undefined ? path.join(o.out, 'checkpoints') : undefined);
  if (saveEvery > 0 && checkpointDir === undefined) throw usageError('--save-every needs --checkpoint-dir, --resume or --out (where checkpoints go)', usage, `--save-every ${saveEvery}`);
  if (keep !== undefined && saveEvery === 0) throw usageError('--keep needs --save-every', usage, `--keep ${keep}`);
  return { saveEvery, keep, checkpointDir, resumeFrom: o.resume };
}

export const NORMALIZE_KINDS = ['data', 'imagenet', 'inception'] as const;
export type NormalizeKind = (typeof NORMALIZE_KINDS)[number];
/** The normalizations of pretrained weights' recipes (timm's IMAGENET_DEFAULT_* and IMAGENET_INCEPTION_*). */
export const NORMALIZATIONS: Record<Exclude<NormalizeKind, 'data'>, { mean: number[]; std: number[] }> = {
  imagenet: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  inception: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
};

/** undefined for 'data' (the loader's default: the set's own statistics); a recipe's, per channel. */
function normalization(kind: NormalizeKind, train: { imageShape: readonly number[] }, usage: string): { mean: number[]; std: number[] } | undefined {
  if (kind === 'data') return undefined;
  const channels = train.imageShape[2]!;
  const n = NORMALIZATIONS[kind];
  if (channels === 3) return n;
  if (kind === 'inception') return { mean: Array(channels).fill(0.5), std: Array(channels).fill(0.5) };
  throw usageError(`--normalize ${kind} is for RGB images; the data has ${channels} channel(s)`, usage, `${channels} channels`);
}

/**
 * Defaults on a real dataset: 8 epochs at a peak learning rate of 2e-3 (cosine, 5% warmup) take the
 * tiny preset to about 89.5% on Fashion-MNIST in 5 to 6 minutes on two cores (README, Training).
 */
const DATASET_EPOCHS = 8;
const DATASET_LR = 2e-3;

/** The model's input and class count must match the data; a preset's class count follows the data. */
export function fitToData(c: ModelConfig, shape: readonly [number, number, number], numClasses: number, name: string): ModelConfig {
  const [h, w, ch] = shape;
  if (h !== c.imageSize || w !== c.imageSize || ch !== c.channels) {
    throw new Vit22bError('ERR_INVALID_CONFIG', `model ${name} takes ${c.imageSize}x${c.imageSize}x${c.channels} images but the data is ${h}x${w}x${ch}`, {
      expected: `${c.imageSize}x${c.imageSize}x${c.channels}`,
      received: `${h}x${w}x${ch}`,
      field: 'imageSize',
    });
  }
  return numClasses === c.numClasses ? c : validateConfig({ ...c, numClasses });
}
