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
export function resumeCheckpoint(from: string, program: Program, current: TrainerCheckpointState, onSkip?: CheckpointSkipHandler): { path: string; step: number; updates: number; skipped: number } {
  const dir = resolveCheckpoint(from, onSkip);
  const loaded = loadCheckpoint(dir, program, { config: current.modelConfig ?? undefined });
  const saved = checkResumeState(path.join(dir, 'trainer.json'), loaded.trainer.trainerState, current, loaded.step);
  return { path: dir, step: loaded.step, updates: saved.updates, skipped: saved.skipped };
}

/**
 * A checkpoint's trainer state against this run's: every MUST_MATCH field equal, and the counts a
 * resume continues from present and sane. Any JSON value may arrive here (trainer.json is input).
 */
export function checkResumeState(file: string, trainerState: unknown, current: TrainerCheckpointState, step: number): { updates: number; skipped: number } {
  const saved = (trainerState ?? {}) as Partial<TrainerCheckpointState>;
  for (const k of MUST_MATCH) {
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
