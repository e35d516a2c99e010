/**
 * The QK-norm stability study (ViT-22B §2 "QK normalization"; Wortsman et al. 2023, "Small-scale
 * proxies for large-scale Transformer training instabilities"): the same small parallel-block ViT
 * trained with and without QK-norm over a sweep of peak learning rates, recording the training
 * loss and, per block, the largest attention logit and the mean attention entropy as training goes.
 *
 * Without QK-norm the attention logits are free to grow with the weights; the paper saw them grow
 * until the softmax saturated into one-hot rows (entropy near 0) and training diverged. The study
 * reports what happens here, whatever it is.
 *
 * The statistics come from a separate forward program with `attention_stats` outputs (buildVit's
 * attentionStats option), run on a fixed probe batch of test images every `statsEvery` steps with
 * the training program's current parameters copied in: the training step itself is unchanged.
 */
import { DataLoader, type Dataset } from '../data';
import { compile } from '../graph/compile';
import type { Program } from '../graph/program';
import { buildVit, type ModelConfig } from '../model';
import type { Device } from '../runtime/device';
import { isVit22bError, Vit22bError } from '../runtime/errors';
import { Trainer } from '../train/trainer';
import { vitModel } from '../train/vit-model';

export const DEFAULT_STUDY_LRS: readonly number[] = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1];

export interface QkNormStudyOptions {
  device: Device;
  /** The model; each arm overrides only `qkNorm`. Must use parallel blocks (the study's subject). */
  config: ModelConfig;
  train: Dataset;
  /** Probe images for the attention statistics come from here (else from train). */
  test?: Dataset;
  /** Peak learning rates (AdamW, linear warmup then cosine decay). */
  lrs?: readonly number[];
  steps?: number;
  batch?: number;
  /** Warmup as a fraction of the steps. Default 0.05. */
  warmup?: number;
  /** Decoupled weight decay (times the learning rate). Default 1e-4, as `vit22b train`. */
  weightDecay?: number;
  /** Global gradient-norm clipping; 0 turns it off. Default 1, as `vit22b train`. */
  clipNorm?: number;
  /** Attention statistics every this many steps (and at step 0 and the last). Default 50. */
  statsEvery?: number;
  /** Images in the probe batch. Default 64. */
  probeBatch?: number;
  seed?: number;
  /** Called after each run (for progress output). */
  onRun?: (run: StudyRun, index: number, total: number) => void;
}

export interface StatsPoint {
  step: number;
  /** Per block: the largest attention logit and the mean attention entropy (nats). */
  maxLogit: number[];
  entropy: number[];
}

export interface StudyRun {
  qkNorm: boolean;
  lr: number;
  /** 'diverged': a NaN/inf loss or gradient stopped training (the step is `divergedAt`). */
  status: 'ok' | 'diverged';
  divergedAt?: number;
  /** Mean training loss of the last tenth of the steps (NaN when diverged). */
  finalLoss: number;
  /** Training loss every statsEvery steps (mean over the steps since the previous point). */
  loss: { step: number; loss: number }[];
  stats: StatsPoint[];
  seconds: number;
}

export interface QkNormStudy {
  config: ModelConfig;
  steps: number;
  batch: number;
  lrs: number[];
  runs: StudyRun[];
  seconds: number;
}

function positive(name: string, v: number, integer: boolean): number {
  if (!(v > 0) || !Number.isFinite(v) || (integer && !Number.isSafeInteger(v))) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `qk-norm study: ${name} must be a positive ${integer ? 'integer' : 'number'}`, { expected: '> 0', received: String(v) });
  }
  return v;
}

/** The attention statistics of `program`'s current parameters on the probe batch. */
async function measure(statsProgram: Program, from: Program, probe: { images: Float32Array; labels: Int32Array }, depth: number, step: number): Promise<StatsPoint> {
  for (const name of from.parameterNames()) statsProgram.write(name, from.read(name));
  const out = await statsProgram.run(probe);
  const maxLogit: number[] = [];
  const entropy: number[] = [];
  for (let i = 0; i < depth; ++i) {
    const s = out[`attention_stats/block${i}`] as Float32Array;
    maxLogit.push(s[0]!);
    entropy.push(s[1]!);
  }
  return { step, maxLogit, entropy };
}

async function oneRun(o: QkNormStudyOptions, config: ModelConfig, lr: number, common: Required<Pick<QkNormStudyOptions, 'steps' | 'batch' | 'warmup' | 'weightDecay' | 'clipNorm' | 'statsEvery' | 'seed'>>, probe: { images: Float32Array; labels: Int32Array }): Promise<StudyRun> {
  const t0 = performance.now();
  const { steps, batch, statsEvery, seed } = common;
  const train = new DataLoader(o.train, { batch, seed, shuffle: true, dropLast: true });
  using trainer = new Trainer({
    device: o.device,
    model: vitModel(config),
    train,
    steps,
    optimizer: { kind: 'adamw', weightDecay: common.weightDecay },
    schedule: { kind: 'cosine', lr, warmup: Math.round(common.warmup * steps) },
    clipNorm: common.clipNorm > 0 ? common.clipNorm : undefined,
    seed,
    onNonFinite: 'stop',
  });
  using statsProgram = compile((b, shapes) => buildVit(b, config, { batch: shapes.images![0]!, attentionStats: true }), {
    device: o.device,
    inputShapes: { images: [probe.labels.length, config.imageSize, config.imageSize, config.channels], labels: [probe.labels.length] },
  });
  const run: StudyRun = { qkNorm: config.qkNorm, lr, status: 'ok', finalLoss: NaN, loss: [], stats: [], seconds: 0 };
  run.stats.push(await measure(statsProgram, trainer.program, probe, config.depth, 0));
  const tail = Math.max(1, Math.floor(steps / 10));
  let tailSum = 0;
  let windowSum = 0, windowCount = 0;
  try {
    for await (const ev of trainer.steps()) {
      if (ev.type !== 'step') continue;
      windowSum += ev.loss;
      windowCount++;
      if (ev.step > steps - tail) tailSum += ev.loss;
      if (ev.step % statsEvery === 0 || ev.step === steps) {
        run.loss.push({ step: ev.step, loss: windowSum / windowCount });
        windowSum = windowCount = 0;
        run.stats.push(await measure(statsProgram, trainer.program, probe, config.depth, ev.step));
      }
    }
    run.finalLoss = tailSum / tail;
  } catch (e) {
    if (!isVit22bError(e, 'ERR_NON_FINITE')) throw e;
    run.status = 'diverged';
    run.divergedAt = Number((e.details as { step?: number }).step ?? NaN);
    // The parameters are those before the failing update: their statistics show the state that
    // produced the non-finite step.
    run.stats.push(await measure(statsProgram, trainer.program, probe, config.depth, run.divergedAt));
  }
  run.seconds = (performance.now() - t0) / 1e3;
  return run;
}

/** Runs the sweep: for each learning rate, without then with QK-norm. */
export async function qkNormStudy(o: QkNormStudyOptions): Promise<QkNormStudy> {
  const t0 = performance.now();
  if (o.config.block !== 'parallel') {
    throw new Vit22bError('ERR_INVALID_CONFIG', 'the qk-norm study trains parallel-block models', { expected: "block: 'parallel'", received: String(o.config.block) });
  }
  const lrs = [...(o.lrs ?? DEFAULT_STUDY_LRS)].map((lr) => positive('each learning rate', lr, false));
  if (lrs.length === 0) throw new Vit22bError('ERR_INVALID_ARGUMENT', 'qk-norm study: no learning rates', { expected: 'one or more', received: '[]' });
  const common = {
    steps: positive('steps', o.steps ?? 600, true),
    batch: positive('batch', o.batch ?? 128, true),
    warmup: o.warmup ?? 0.05,
    weightDecay: o.weightDecay ?? 1e-4,
    clipNorm: o.clipNorm ?? 1,
    statsEvery: positive('statsEvery', o.statsEvery ?? 50, true),
    seed: o.seed ?? 0,
  };
  const probeSet = o.test ?? o.train;
  const probeSize = Math.min(positive('probeBatch', o.probeBatch ?? 64, true), probeSet.size);
  // Test images in order, normalized with the training set's statistics like every evaluation.
  const probe = await new DataLoader(probeSet, { batch: probeSize, seed: 0, shuffle: false, dropLast: true, normalize: { mean: o.train.mean, std: o.train.std } }).batchAt(0);
  const runs: StudyRun[] = [];
  const total = lrs.length * 2;
  for (const lr of lrs) {
    for (const qkNorm of [false, true]) {
      const run = await oneRun(o, { ...o.config, qkNorm }, lr, common, { images: probe.images, labels: probe.labels });
      runs.push(run);
      o.onRun?.(run, runs.length - 1, total);
    }
  }
  return { config: o.config, steps: common.steps, batch: common.batch, lrs, runs, seconds: (performance.now() - t0) / 1e3 };
}
