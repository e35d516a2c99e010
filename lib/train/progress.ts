/**
 * The trainer's console output. On a terminal: one progress line redrawn in place (step, loss,
 * accuracy, img/s, ETA) at most ~10 times a second, with evaluations printed above it. Elsewhere
 * (a pipe, a CI log): plain lines, every `every` steps and at the last, so logs stay readable.
 */
import type { EvalEvent, SkipEvent, StepEvent, TrainSummary } from './events';

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export type ProgressMode = 'auto' | 'bar' | 'lines' | 'none';

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

export class ProgressReporter {
  private readonly bar: boolean;
  private lastDraw = 0;
  private drawn = false;
  /** Smoothed img/s for the display and the ETA (the per-step figure jitters). */
  private rate = 0;

  constructor(
    private readonly stream: ProgressStream,
    mode: Exclude<ProgressMode, 'none'>,
    private readonly every: number,
    private readonly imagesPerStep: number,
  ) {
    this.bar = mode === 'bar' || (mode === 'auto' && stream.isTTY === true);
  }

  step(e: StepEvent): void {
    this.rate = this.rate === 0 ? e.imagesPerSecond : 0.9 * this.rate + 0.1 * e.imagesPerSecond;
    const eta = ((e.steps - e.step) * this.imagesPerStep) / this.rate;
    const text =
      `step ${e.step}/${e.steps}  loss ${e.loss.toFixed(4)}  acc ${pct(e.accuracy)}  lr ${e.lr.toExponential(2)}` +
      `  ${Math.round(this.rate)} img/s  ETA ${formatDuration(eta)}${e.skipped ? `  skipped ${e.skipped}` : ''}`;
    if (!this.bar) {
      if (e.step % this.every === 0 || e.step === e.steps || e.step === 1) this.stream.write(text + '\n');
      return;
    }
    const now = Date.now();
    if (now - this.lastDraw < 100 && e.step !== e.steps) return;
    this.lastDraw = now;
    const width = Math.max(10, Math.min(30, (this.stream.columns ?? 100) - text.length - 6));
    const filled = Math.round((width * e.step) / e.steps);
    this.stream.write(`\r[${'='.repeat(filled)}${' '.repeat(width - filled)}] ${text}\x1b[K`);
    this.drawn = true;
  }

  skip(e: SkipEvent): void {
    this.line(`step ${e.step}: skipped (${e.reason})`);
  }

  eval(e: EvalEvent): void {
    const top5 = e.testTop5 !== undefined ? `  top-5 ${pct(e.testTop5)}` : '';
    this.line(`eval after step ${e.step}: test accuracy ${pct(e.testAccuracy)}${top5}  loss ${e.testLoss.toFixed(4)}  (${e.examples} images, ${e.evalSeconds.toFixed(1)}s)`);
  }

  done(s: TrainSummary): void {
    if (this.bar && this.drawn) {
      this.stream.write('\n'); // keep the finished bar on screen
      this.drawn = false;
    }
    const test = s.testAccuracy !== undefined ? `, test accuracy ${pct(s.testAccuracy)}` : '';
    this.line(`done: ${s.steps} steps in ${formatDuration(s.seconds)}, ${Math.round(s.imagesPerSecond)} img/s${test}${s.skipped ? `, ${s.skipped} skipped` : ''}`);
  }

  /** A full line, above the bar when one is drawn. */
  private line(text: string): void {
    if (this.bar && this.drawn) {
      this.stream.write(`\r\x1b[K${text}\n`);
      this.drawn = false;
      this.lastDraw = 0;
    } else {
      this.stream.write(text + '\n');
    }
  }
}
