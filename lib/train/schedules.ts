/**
 * Learning-rate schedules: a linear warmup, then a decay, then optionally a linear cooldown.
 * Steps count from 1 (the first update is step 1) up to `totalSteps`. With base lr `b`, warmup `w`,
 * total `T`, cooldown `c`, and the decay's progress p = clamp((t - w) / (T - w), 0, 1):
 *
 *   warmup      t <= w:  lr = b t / w                       (reaches b at t = w; never 0)
 *   'constant'   lr = b
 *   'linear'     lr = b + (end - b) p                        (end = b x endFactor, default 0)
 *   'cosine'     lr = end + (b - end) (1 + cos(pi p)) / 2
 *   'rsqrt'      lr = b sqrt(timescale / (timescale + t - w))   (the ViT-22B paper's decay;
 *                timescale defaults to 10,000, big_vision's; = b at the end of warmup)
 *   cooldown     lr x min(1, (T - t + 1) / c)                over the last c steps, linear down to
 *                lr/c at t = T (big_vision's rule on its 0-based step t - 1: the last update still counts)
 *
 * A warmup longer than the run never reaches b; a cooldown overlapping the warmup multiplies it: both
 * are allowed (a short trial run of a long recipe), and the formulas above hold as written.
 *
 * The paper's recipe (VIT22B.md): warmup 10k steps to 1e-3, rsqrt decay, linear cooldown over the
 * last 30k of 177k steps: `{ kind: 'rsqrt', lr: 1e-3, warmup: 10_000, cooldown: 30_000, totalSteps: 177_000 }`.
 */
import { Vit22bError } from '../runtime/errors';

export type ScheduleKind = 'rsqrt' | 'cosine' | 'linear' | 'constant';

export const SCHEDULE_KINDS: readonly ScheduleKind[] = ['rsqrt', 'cosine', 'linear', 'constant'];

export interface ScheduleSpec {
  kind: ScheduleKind;
  /** The base (peak) learning rate. */
  lr: number;
  totalSteps: number;
  /** Linear warmup steps. Default 0. */
  warmup?: number;
  /** Linear cooldown to 0 over the last steps. Default 0 (none). */
  cooldown?: number;
  /** 'rsqrt' only: the decay's timescale in steps. Default 10,000. */
  timescale?: number;
  /** 'linear' and 'cosine': the final learning rate as a fraction of lr. Default 0. */
  endFactor?: number;
}

export type Schedule = (step: number) => number;

function bad(field: string, expected: string, received: unknown): Vit22bError {
  return new Vit22bError('ERR_INVALID_ARGUMENT', `schedule ${field} must be ${expected}`, { field, expected, received: String(received) });
}

function integer(field: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw bad(field, `an integer >= ${min}`, v);
  return v;
}

function finite(field: string, v: unknown, min: number, max = Infinity): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw bad(field, `a finite number in [${min}, ${max}]`, v);
  return v;
}

/** Checks a spec (typed errors naming the field) and returns its function of the step. */
export function makeSchedule(spec: ScheduleSpec): Schedule {
  if (typeof spec !== 'object' || spec === null) throw bad('', 'an object', spec);
  if (!SCHEDULE_KINDS.includes(spec.kind)) throw bad('kind', SCHEDULE_KINDS.join(' | '), spec.kind);
  const base = finite('lr', spec.lr, 0);
  const total = integer('totalSteps', spec.totalSteps, 1);
  const warmup = integer('warmup', spec.warmup ?? 0, 0);
  const cooldown = integer('cooldown', spec.cooldown ?? 0, 0);
  const timescale = finite('timescale', spec.timescale ?? 10_000, Number.MIN_VALUE);
  const end = base * finite('endFactor', spec.endFactor ?? 0, 0, 1);
  const decay = (t: number): number => {
    const p = total > warmup ? Math.min(1, Math.max(0, (t - warmup) / (total - warmup))) : 1;
    switch (spec.kind) {
      case 'constant':
        return base;
      case 'linear':
        return base + (end - base) * p;
      case 'cosine':
        return end + ((base - end) * (1 + Math.cos(Math.PI * p))) / 2;
      case 'rsqrt':
        return base * Math.sqrt(timescale / (timescale + Math.max(0, t - warmup)));
    }
  };
  return (step: number): number => {
    const t = integer('step', step, 1);
    let lr = t <= warmup ? (base * t) / warmup : decay(t);
    if (cooldown > 0) lr *= Math.min(1, Math.max(0, (total - t + 1) / cooldown));
    return lr;
  };
}
