/**
 * `<out>/metrics.jsonl`: one JSON object per line, appended as the run goes (a crash leaves every
 * line written so far): a 'start' line with the run's settings, the trainer's events, and a
 * 'summary' line. Appending, so several runs into one folder stay one readable history.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureOutputDir, ioError } from '../io/output-path';

export class MetricsLog {
  readonly file: string;

  constructor(outDir: string) {
    // Made and proved writable now, before any training, so a bad --out fails in a second.
    ensureOutputDir(outDir);
    this.file = path.join(outDir, 'metrics.jsonl');
    try {
      fs.appendFileSync(this.file, '');
    } catch (e) {
      throw ioError(e, this.file, 'append to');
    }
  }

  write(record: Record<string, unknown>): void {
    try {
      fs.appendFileSync(this.file, JSON.stringify(record) + '\n');
    } catch (e) {
      throw ioError(e, this.file, 'append to');
    }
  }
}
