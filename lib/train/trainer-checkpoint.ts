/**
 * The Trainer's side of checkpoints: what trainer.json records of a run, and the checks that make a
 * resume exact. Batches are a pure function of (seed, data step) and the schedule of the step, so
 * restoring the buffers and continuing at step n + 1 with data step n x accumulation replays exactly
 * what the uninterrupted run would have done; anything that would change that (seed, batch,
 * accumulation, total steps, optimizer, schedule, precision, clipping) must match the checkpoint's.
 */
import * as path from 'node:path';
import type { Program } from '../graph/program';
import { checkpointError, loadCheckpoint, resolveCheckpoint, saveCheckpoint, type CheckpointSkipHandler } from '../io/checkpoint';

export interface TrainerCheckpointState {
  /** Steps done (updates + skipped); the resumed run starts at step + 1. */
  step: number;
  /** Optimizer updates applied (the AdamW bias correction counts these). */
  updates: number;
  skipped: number;
  /** The next loader step: step x accumulation. */
  dataStep: number;
  seed: number;
  batch: number;
  accumulation: number;
  totalSteps: number;
  optimizer: unknown;
  schedule: unknown;
  precision: string;
  clipNorm: number | null;
  modelConfig: unknown;
  /** Class names and input normalization, for prediction from the checkpoint (not checked on resume). */
  task?: unknown;
}

/** Fields a resumed run must share with the checkpoint for the continuation to be exact. */
// totalSteps too: a cosine or linear schedule (and its default warmup) is a function of it.
const MUST_MATCH = ['seed', 'batch', 'accumulation', 'totalSteps', 'optimizer', 'schedule', 'precision', 'clipNorm'] as const;

export function saveTrainerCheckpoint(dir: string, program: Program, state: TrainerCheckpointState, config: unknown, keep?: number): string {
  return saveCheckpoint(dir, { program, step: state.step, config: config ?? null, trainerState: { ...state }, keep });
}

/**
 * Loads `from` (a checkpoint, or a directory of them: the newest that verifies) into `program` after
 * checking it against this run; returns where the run continues.
 */
/** What an extension (options.extend) may change: the length of the run, hence its schedule. */
const EXTENDABLE: ReadonlySet<string> = new Set(['totalSteps', 'schedule']);

export function resumeCheckpoint(
  from: string,
  program: Program,
  current: TrainerCheckpointState,
  options: { extend?: boolean; onSkip?: CheckpointSkipHandler } = {},
): { path: string; step: number; updates: number; skipped: number } {
  const dir = resolveCheckpoint(from, options.onSkip);
  const loaded = loadCheckpoint(dir, program, { config: current.modelConfig ?? undefined });
  const file = path.join(dir, 'trainer.json');
  if (options.extend && !(current.totalSteps > loaded.step)) {
    throw checkpointError(file, 'extend-too-short', `extending needs more steps than the checkpoint's ${loaded.step}`, {
      field: 'totalSteps',
      expected: `more than ${loaded.step}`,
      received: String(current.totalSteps),
    });
  }
  const saved = checkResumeState(file, loaded.trainer.trainerState, current, loaded.step, options.extend ?? false);
  return { path: dir, step: loaded.step, updates: saved.updates, skipped: saved.skipped };
}

/**
 * A checkpoint's trainer state against this run's: every MUST_MATCH field equal (but the length
 * and schedule when extending), and the counts a resume continues from present and sane. Any JSON
 * value may arrive here (trainer.json is input).
 */
export function checkResumeState(file: string, trainerState: unknown, current: TrainerCheckpointState, step: number, extend = false): { updates: number; skipped: number } {
  const saved = (trainerState ?? {}) as Partial<TrainerCheckpointState>;
  for (const k of MUST_MATCH) {
    if (extend && EXTENDABLE.has(k)) continue;
    if (JSON.stringify(saved[k]) !== JSON.stringify(current[k])) {
      throw checkpointError(file, 'trainer-mismatch', `the checkpoint's ${k} differs from this run's: resuming would not continue the same run`, {
        field: k,
        expected: String(JSON.stringify(current[k])),
        received: String(JSON.stringify(saved[k])),
      });
    }
  }
  const count = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  if (!count(saved.updates) || !count(saved.skipped) || saved.step !== step) {
    throw checkpointError(file, 'trainer-state-invalid', 'trainer.json lacks the step, updates or skipped counts', {
      expected: `step ${step}, updates and skipped: integers >= 0`,
      received: `step ${String(saved.step)}, updates ${String(saved.updates)}, skipped ${String(saved.skipped)}`,
    });
  }
  return { updates: saved.updates!, skipped: saved.skipped! };
}
