/**
 * The training loop as a library: compile a model function into one training-step program, then
 * feed it batches, with the schedule, gradient accumulation, periodic evaluation, metrics as JSON
 * lines, a progress display and the non-finite policy around it.
 *
 *   using trainer = new Trainer({ device, model, train: loader, test: testLoader, steps: 1000,
 *                                 optimizer: { kind: 'adamw', weightDecay: 1e-4 },
 *                                 schedule: { kind: 'cosine', lr: 1e-3, warmup: 100 } });
 *   for await (const ev of trainer.steps()) if (ev.type === 'eval') console.log(ev.testAccuracy);
 *   // or: const summary = await trainer.run({ onStep, onEval });
 *
 * Prefetch: each step's native run starts, then the next batch is built on the JavaScript thread
 * while the step computes on the native worker, then the step is awaited. Determinism: parameters
 * come from `seed`, batches from the loaders' own seeds, and every kernel is deterministic whatever
 * the thread count, so the same options give bitwise the same run.
 *
 * Checkpoints (checkpointDir, saveEvery, keep, resumeFrom; lib/io/checkpoint.ts): saved after a step,
 * before its event is yielded; a resumed run restores every buffer and continues at the next step
 * with the same data position and schedule, so it ends bitwise where the uninterrupted run would.
 */
import * as fs from 'node:fs';

import type { ModelConfig } from '../model/config';
import { checkMeshFits } from '../model/mesh-fit';
import type { MeshShape } from '../graph/sharding';
import type { OverlapMode } from '../graph/passes/streams';
import { compile, type ModelFn } from '../graph/compile';
import type { Precision } from '../graph/builder';
import type { Program } from '../graph/program';
import type { RematPolicy } from '../graph/passes/remat';
import type { OptimizerSpec } from '../graph/training-step';
import type { Device } from '../runtime/device';
import { isVit22bError, Vit22bError } from '../runtime/errors';
import { fetchBatch, processShard, type BatchSource, type SourceBatch } from './batch-source';
import { evaluate } from './evaluate';
import type { EvalEvent, SkipEvent, StepEvent, TrainerEvent, TrainSummary } from './events';
import { MetricsLog } from './metrics-log';
import { describeSkippedCheckpoint } from '../io/checkpoint';
import { lockCheckpointDir } from '../io/checkpoint-lock';
import type { MeshComm } from '../runtime/mesh';
import { ProgressReporter, type ProgressMode, type ProgressStream } from './progress';
import { makeSchedule, type Schedule, type ScheduleSpec } from './schedules';
import { loadPretrained, type PretrainedInit } from './pretrained';
import { resumeCheckpoint, saveTrainerCheckpoint, type TrainerCheckpointState } from './trainer-checkpoint';

export interface TrainerOptions {
  device: Device;
  /**
   * Train on a data x model mesh of virtual CPU devices ({ data: 2, model: 2 }): the same step,
   * partitioned (lib/graph/passes/partition.ts). Checkpoints hold global tensors either way.
   */
  mesh?: MeshShape;
  /**
   * How the mesh's devices talk (compile's `comm`): 'local' (default, virtual devices of this
   * process), 'mpi' (this process is one CPU device of an MPI job of data x model processes) or
   * 'nccl' (one GPU, `device`, of a job of processes joined by NCCL). Over processes every one runs
   * the same Trainer on the same data, each feeding its own slice of every batch.
   */
  comm?: MeshComm;
  /** A collective's deadline in ms (compile's `commTimeoutMs`). */
  commTimeoutMs?: number;
  /** 3: ZeRO-3 over the mesh's data axis (compile's `zero`). */
  zero?: 0 | 3;
  /** 'streams': collectives on a communication stream of their own (compile's `overlap`). */
  overlap?: OverlapMode;
  /**
   * Write the timeline of one step (default: the second, or the only one) to this file as Chrome
   * trace JSON (Program.timeline; open it in Perfetto or chrome://tracing). That step is profiled:
   * a synchronization after each instruction, so it runs a little slower than the others.
   */
  trace?: { file: string; step?: number };
  /**
   * Builds the forward graph from inputs `images` f32 [B, H, W, C] and `labels` i32 [B], with outputs
   * `loss` (f32 [], the mean over the batch) and `accuracy` (i32 [1] or [2]: top-1 and top-5 hits).
   * Called per input shape (`shapes.images[0]` is the batch).
   */
  model: ModelFn;
  train: BatchSource;
  /** Evaluated in forward mode, whole, every `evalEvery` steps and at the end. */
  test?: BatchSource;
  /** Optimizer steps to take. */
  steps: number;
  optimizer: OptimizerSpec;
  /** A schedule spec (totalSteps defaults to `steps`) or a function of the step (from 1). */
  schedule: Omit<ScheduleSpec, 'totalSteps'> & { totalSteps?: number } | Schedule;
  clipNorm?: number;
  precision?: Precision;
  remat?: RematPolicy;
  /** Seed of the parameter initialization. Default 0. */
  seed?: number;
  /** Micro-batches (loader batches) per optimizer step; the step's batch is k x train.batch. Default 1. */
  accumulation?: number;
  /** Evaluate every this many steps (0: only at the end). Default 0. */
  evalEvery?: number;
  /** A folder: metrics are appended to `<out>/metrics.jsonl`. */
  out?: string;
  /** A NaN/inf loss or gradient: stop with ERR_NON_FINITE naming the step (default), or skip the batch and count it. */
  onNonFinite?: 'stop' | 'skip';
  /** Console output: 'auto' (a bar on a TTY, lines otherwise), 'bar', 'lines' or 'none' (default). */
  progress?: ProgressMode;
  progressStream?: ProgressStream;
  /** Plain-line progress every this many steps. Default: about 20 lines per run. */
  logEvery?: number;
  /** Extra fields for the metrics file's 'start' line (the CLI records its arguments). */
  runInfo?: Record<string, unknown>;
  /** Where checkpoints go (`<checkpointDir>/step-<n>`, lib/io/checkpoint.ts). */
  checkpointDir?: string;
  /** Save a checkpoint every this many steps, and after the last (needs checkpointDir). Default 0: never. */
  saveEvery?: number;
  /** Keep only the newest this many checkpoints. Default: all. */
  keep?: number;
  /**
   * Resume from a checkpoint: a `step-<n>` directory, or a directory of them (the newest that
   * verifies). Training continues at step n + 1 with the same data order and schedule.
   */
  resumeFrom?: string;
  /** The model config, recorded in checkpoints and checked against one resumed from. */
  modelConfig?: unknown;
  /**
   * Start from pretrained weights (needs modelConfig): ours or timm's, with the classifier
   * re-initialized for another class count and position embeddings resampled for another image size
   * (lib/train/pretrained.ts). The optimizer state starts fresh. A resumeFrom checkpoint overrides it.
   */
  init?: PretrainedInit;
  /**
   * With resumeFrom: continue a run for more steps than it was started with (a larger `steps`). The
   * schedule is re-derived for the new total, the data order continues where the checkpoint left
   * it. This is a new run: it does not end bitwise where a run started with the larger `steps` would.
   */
  extend?: boolean;
  /** Recorded in checkpoints for prediction (vit22b predict --checkpoint): class names and the input normalization. */
  task?: { classNames?: readonly string[]; normalize?: { mean: readonly number[]; std: readonly number[] } };
}

export interface TrainerCallbacks {
  onStep?(e: StepEvent): void | Promise<void>;
  onEval?(e: EvalEvent): void | Promise<void>;
  onSkip?(e: SkipEvent): void | Promise<void>;
}

function positiveInt(name: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `trainer option ${name} must be an integer >= ${min}`, { expected: `an integer >= ${min}`, received: String(v) });
  }
  return v;
}

/** Where a step's micro-batches come from (see Trainer.trainStep). */
export interface MicroBatches {
  take(): Promise<SourceBatch>;
  prefetch(): void;
  /**
   * The batches are this process's data shards (a program over processes: Program.run's `shard`),
   * 1/t of each global batch over a data axis of t; default: whole batches.
   */
  shard?: boolean;
}

/** What one optimizer step did: the mean loss over its micro-batches, top-1 hits, images, the gradient norm, or the non-finite failure that stopped it. */
export interface StepResult {
  loss: number;
  hits: number;
  images: number;
  gradNorm: number;
  failure?: Vit22bError;
}

export class Trainer implements Disposable {
  readonly program: Program;
  readonly schedule: Schedule;
  readonly accumulation: number;
  readonly totalSteps: number;
  /** What `init` adapted (a re-initialized classifier, resampled position embeddings), one sentence each. */
  readonly initNotes: string[] = [];
  private readonly options: TrainerOptions;
  private summaryValue?: TrainSummary;
  private started = false;

  constructor(options: TrainerOptions) {
    if (!options || typeof options !== 'object' || !options.device || typeof options.model !== 'function' || !options.train) {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', 'Trainer needs { device, model, train, steps, optimizer, schedule }', {
        expected: '{ device, model: ModelFn, train: BatchSource, ... }',
        received: options === null ? 'null' : typeof options,
      });
    }
    this.options = options;
    this.totalSteps = positiveInt('steps', options.steps);
    this.accumulation = positiveInt('accumulation', options.accumulation ?? 1);
    positiveInt('evalEvery', options.evalEvery ?? 0, 0);
    positiveInt('saveEvery', options.saveEvery ?? 0, 0);
    if (options.keep !== undefined) positiveInt('keep', options.keep);
    if ((options.saveEvery ?? 0) > 0 && !options.checkpointDir) {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', 'trainer option saveEvery needs checkpointDir', { expected: 'checkpointDir: a directory', received: 'undefined' });
    }
    if (options.onNonFinite !== undefined && options.onNonFinite !== 'stop' && options.onNonFinite !== 'skip') {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', "trainer option onNonFinite must be 'stop' or 'skip'", { expected: 'stop | skip', received: String(options.onNonFinite) });
    }
    this.schedule = typeof options.schedule === 'function' ? options.schedule : makeSchedule({ totalSteps: this.totalSteps, ...options.schedule });
    const [h, w, c] = options.train.dataset.imageShape;
    const b = options.train.batch;
    if (options.mesh && options.modelConfig) checkMeshFits(options.modelConfig as ModelConfig, options.mesh, b);
    this.program = compile(options.model, {
      device: options.device,
      ...(options.mesh ? { mesh: options.mesh } : {}),
      ...(options.comm !== undefined ? { comm: options.comm } : {}),
      ...(options.commTimeoutMs !== undefined ? { commTimeoutMs: options.commTimeoutMs } : {}),
      ...(options.zero !== undefined ? { zero: options.zero } : {}),
      ...(options.overlap !== undefined ? { overlap: options.overlap } : {}),
      inputShapes: { images: [b, h, w, c], labels: [b] },
      train: { loss: 'loss', optimizer: options.optimizer, clipNorm: options.clipNorm, accumulate: this.accumulation > 1 },
      precision: options.precision,
      remat: options.remat,
      seed: options.seed ?? 0,
    });
    if (options.init !== undefined) {
      if (!options.modelConfig) {
        throw new Vit22bError('ERR_INVALID_ARGUMENT', 'trainer option init needs modelConfig (the weights are adapted to it)', { field: 'modelConfig', expected: 'a ModelConfig', received: 'undefined' });
      }
      try {
        const w = loadPretrained(options.init, options.modelConfig as ModelConfig);
        for (const [n, v] of w.params) this.program.write(n, v);
        this.initNotes.push(...w.notes);
      } catch (e) {
        this.program.dispose();
        throw e;
      }
    }
  }

  /** The last run's summary (after steps() has finished). */
  get summary(): TrainSummary | undefined {
    return this.summaryValue;
  }

  /** Evaluates the current parameters on `source` (default: the test set). */
  async evaluate(source: BatchSource | undefined = this.options.test) {
    if (!source) throw new Vit22bError('ERR_INVALID_ARGUMENT', 'no test set to evaluate on', { expected: 'a test BatchSource', received: 'undefined' });
    return evaluate(this.program, source, {});
  }

  /**
   * One optimizer step: `accumulation` micro-batches taken from `batches` (each run as soon as it is
   * taken; `prefetch` is called once its run has started, so the caller can build the next batch on
   * the JavaScript thread while the device works), their gradients accumulated and the update
   * applied. A non-finite loss or gradient in any micro-batch makes the whole step a failure (its
   * remaining micro-batches are taken but not run, the accumulators are cleared, nothing is
   * updated); any other error is thrown.
   */
  async trainStep(batches: MicroBatches, scalars: { lr: number; step: number }): Promise<StepResult> {
    const k = this.accumulation;
    const [h, w, c] = this.options.train.dataset.imageShape;
    const r: StepResult = { loss: 0, hits: 0, images: 0, gradNorm: NaN };
    const shard = batches.shard === true;
    // A shard holds 1/t of the step's images; the outputs (loss, hits) are the global batch's.
    const imagesPerRow = shard ? this.program.session.shape.data : 1;
    for (let micro = 0; micro < k; ++micro) {
      const batch = await batches.take();
      const pending = r.failure ? undefined : this.program.run(inputsOf(batch, h, w, c), scalars, { mode: micro < k - 1 ? 'accumulate' : 'train', shard });
      batches.prefetch();
      if (!pending) continue; // the rest of a step whose micro-batch failed: consumed, not run
      try {
        const out = await pending;
        r.loss += (out.loss as Float32Array)[0]!;
        r.hits += (out.accuracy as Int32Array | undefined)?.[0] ?? 0;
        r.images += batch.labels.length * imagesPerRow;
        if (micro === k - 1) r.gradNorm = (out.gradNorm as Float32Array)[0]!;
      } catch (e) {
        if (!isVit22bError(e, 'ERR_NON_FINITE')) throw e;
        r.failure = e;
      }
    }
    if (r.failure && k > 1) this.program.discardAccumulated();
    r.loss /= k;
    return r;
  }

  /** Runs the whole schedule, yielding an event per step, skipped step and evaluation. */
  async *steps(): AsyncGenerator<TrainerEvent, TrainSummary, undefined> {
    if (this.started) {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', 'a Trainer runs once (create another for another run)', { expected: 'a fresh Trainer', received: 'one already started' });
    }
    this.started = true;
    // One writer per checkpoint directory for the whole run: a second run with the same directory is
    // refused here, before it trains, rather than overwriting this one's checkpoints.
    // Over MPI processes rank 0 alone locks (and commits) checkpoints; the others write their rank
    // files into its temporary directory (lib/io/checkpoint.ts).
    const session = this.program.session;
    const writer = !session.multiProcess || session.meshRanks[0] === 0;
    const release = (this.options.saveEvery ?? 0) > 0 && writer ? lockCheckpointDir(this.options.checkpointDir!) : undefined;
    try {
      return yield* this.runSteps();
    } finally {
      release?.();
    }
  }

  private async *runSteps(): AsyncGenerator<TrainerEvent, TrainSummary, undefined> {
    const o = this.options;
    const k = this.accumulation;
    const source = o.train;
    const imagesPerStep = source.batch * k;
    const evalEvery = o.evalEvery ?? 0;
    const log = o.out !== undefined ? new MetricsLog(o.out) : undefined;
    const progressMode = o.progress ?? 'none';
    const progress =
      progressMode === 'none'
        ? undefined
        : new ProgressReporter(o.progressStream ?? process.stderr, progressMode, o.logEvery ?? Math.max(1, Math.round(this.totalSteps / 20)), imagesPerStep);
    log?.write({
      type: 'start',
      time: new Date().toISOString(),
      steps: this.totalSteps,
      batch: imagesPerStep,
      accumulation: k,
      optimizer: o.optimizer,
      clipNorm: o.clipNorm,
      precision: o.precision ?? 'fp32',
      seed: o.seed ?? 0,
      ...(o.init ? { init: o.init.file, initNotes: this.initNotes } : {}),
      parameters: this.program.parameterNames().reduce((s, n) => s + this.program.bufferShape(n).reduce((a, d) => a * d, 1), 0),
      ...o.runInfo,
    });

    const t0 = performance.now();
    const seconds = () => (performance.now() - t0) / 1e3;
    let evalTime = 0;
    let updates = 0;
    let skipped = 0;
    let finalLoss = NaN;
    let lastEval: EvalEvent | undefined;
    let dataStep = 0;
    let firstStep = 1;
    if (o.resumeFrom !== undefined) {
      // A corrupt newer checkpoint passed over for an older one is said, never silent.
      const r = resumeCheckpoint(o.resumeFrom, this.program, this.checkpointState(0, 0, 0), {
        extend: o.extend ?? false,
        onSkip: (at, e) => {
          (o.progressStream ?? process.stderr).write(describeSkippedCheckpoint(at, e) + '\n');
          log?.write({ type: 'checkpoint-skipped', path: at, code: e.code, rule: e.details.rule, message: e.message, seconds: seconds() });
        },
      });
      firstStep = r.step + 1;
      updates = r.updates;
      skipped = r.skipped;
      dataStep = r.step * k;
      log?.write({ type: 'resume', from: r.path, step: r.step, seconds: seconds() });
    }
    const saveEvery = o.saveEvery ?? 0;
    const save = (step: number) => {
      if (saveEvery > 0 && (step % saveEvery === 0 || step === this.totalSteps)) {
        const at = saveTrainerCheckpoint(o.checkpointDir!, this.program, this.checkpointState(step, updates, skipped), o.modelConfig, o.keep);
        log?.write({ type: 'checkpoint', step, path: at, seconds: seconds() });
      }
    };
    const evaluateAt = async (step: number): Promise<EvalEvent> => {
      const e0 = performance.now();
      const r = await evaluate(this.program, o.test!, {});
      const evalSeconds = (performance.now() - e0) / 1e3;
      evalTime += evalSeconds;
      const ev: EvalEvent = { type: 'eval', step, ...r, evalSeconds, seconds: seconds() };
      log?.write(ev as unknown as Record<string, unknown>);
      progress?.eval(ev);
      return ev;
    };
    // Over processes, each reads only its data coordinate's rows when the source can say which.
    const feed = processShard(source, this.program.session) ?? source;
    let next = fetchBatch(feed, dataStep);
    let lastEnd = performance.now();

    const micro: MicroBatches = {
      take: () => next,
      // The next batch is built here, on the JavaScript thread, while the step runs natively.
      prefetch: () => {
        if (++dataStep < this.totalSteps * k) next = fetchBatch(feed, dataStep);
      },
      shard: feed !== source,
    };

    for (let step = firstStep; step <= this.totalSteps; ++step) {
      const lr = this.schedule(step);
      const traced = o.trace !== undefined && step === (o.trace.step ?? Math.min(firstStep + 1, this.totalSteps));
      if (traced) this.program.setProfiling(true);
      const result = await this.trainStep(micro, { lr, step: updates + 1 });
      if (traced) {
        try {
          if (!result.failure) {
            fs.writeFileSync(o.trace!.file, JSON.stringify(this.program.timeline()) + '\n');
            log?.write({ type: 'trace', step, path: o.trace!.file, seconds: seconds() });
          }
        } finally {
          this.program.setProfiling(false);
        }
      }
      const { loss, hits, images, gradNorm, failure } = result;
      if (failure) {
        if (o.onNonFinite !== 'skip') {
          const err = new Vit22bError('ERR_NON_FINITE', `training step ${step}: ${failure.message}`, { ...failure.details, step });
          log?.write({ type: 'error', step, code: err.code, message: err.message, seconds: seconds() });
          throw err;
        }
        skipped++;
        const ev: SkipEvent = { type: 'skip', step, reason: failure.message, skipped, seconds: seconds() };
        log?.write(ev as unknown as Record<string, unknown>);
        progress?.skip(ev);
        save(step);
        yield ev;
        // A skipped last step still ends with the final evaluation (the run has a test set).
        if (o.test && step === this.totalSteps) yield (lastEval = await evaluateAt(step));
        lastEnd = performance.now();
        continue;
      }
      updates++;
      const now = performance.now();
      finalLoss = loss;
      const ev: StepEvent = {
        type: 'step',
        step,
        steps: this.totalSteps,
        loss: finalLoss,
        accuracy: images > 0 ? hits / images : 0,
        lr,
        gradNorm,
        imagesPerSecond: (images * 1e3) / Math.max(now - lastEnd, 1e-6),
        seconds: seconds(),
        skipped,
      };
      lastEnd = now;
      log?.write(ev as unknown as Record<string, unknown>);
      progress?.step(ev);
      // Saved before the step is reported, so a consumer that stops here finds it on disk.
      save(step);
      yield ev;
      if (o.test && ((evalEvery > 0 && step % evalEvery === 0) || step === this.totalSteps)) {
        yield (lastEval = await evaluateAt(step));
        lastEnd = performance.now();
      }
    }
    const total = seconds();
    const summary: TrainSummary = {
      steps: this.totalSteps,
      skipped,
      seconds: total,
      imagesPerSecond: (updates * imagesPerStep) / Math.max(total - evalTime, 1e-9),
      finalLoss,
      ...(lastEval ? { testAccuracy: lastEval.testAccuracy, testLoss: lastEval.testLoss } : {}),
      mesh: this.program.mesh,
    };
    this.summaryValue = summary;
    log?.write({ type: 'summary', ...summary });
    progress?.done(summary);
    return summary;
  }

  /** What a checkpoint records of this run (and what a resume must match). */
  private checkpointState(step: number, updates: number, skipped: number): TrainerCheckpointState {
    const o = this.options;
    return {
      step,
      updates,
      skipped,
      dataStep: step * this.accumulation,
      seed: o.seed ?? 0,
      batch: o.train.batch,
      accumulation: this.accumulation,
      totalSteps: this.totalSteps,
      optimizer: o.optimizer,
      schedule: typeof o.schedule === 'function' ? 'function' : o.schedule,
      precision: o.precision ?? 'fp32',
      clipNorm: o.clipNorm ?? null,
      modelConfig: o.modelConfig ?? null,
      ...(o.task ? { task: o.task } : {}),
    };
  }

  /** steps() with callbacks; resolves with the summary. */
  async run(callbacks: TrainerCallbacks = {}): Promise<TrainSummary> {
    const it = this.steps();
    for (;;) {
      const r = await it.next();
      if (r.done) return r.value;
      const ev = r.value;
      if (ev.type === 'step') await callbacks.onStep?.(ev);
      else if (ev.type === 'eval') await callbacks.onEval?.(ev);
      else await callbacks.onSkip?.(ev);
    }
  }

  dispose(): void {
    this.program.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

function inputsOf(batch: SourceBatch, h: number, w: number, c: number) {
  const n = batch.labels.length;
  return { images: { data: batch.images, shape: [n, h, w, c] }, labels: { data: batch.labels, shape: [n] } };
}
