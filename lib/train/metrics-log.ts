/**
 * `<out>/metrics.jsonl`: one JSON object per line, appended as the run goes (a crash leaves every
 * line written so far): a 'start' line with the run's settings, the trainer's events, and a
 * 'summary' line. Appending, so several runs into one folder stay one readable history.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export class MetricsLog {
  readonly file: string;

  constructor(outDir: string) {
    fs.mkdirSync(outDir, { recursive: true });
    this.file = path.join(outDir, 'metrics.jsonl');
  }

  write(record: Record<string, unknown>): void {
    fs.appendFileSync(this.file, JSON.stringify(record) + '\n');
  }
}
