/**
 * The rank's own program as the shim's child (rank-shim.ts): its output relayed (rank 0's stdout
 * untouched, everything else prefixed with the rank), signals delivered to it, and how it ended.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as os from 'node:os';

import { LinePrefixer, rankPrefix } from './rank-output';

export interface RankEnd {
  rank: number;
  /** Exit status, or null when a signal ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** process.hrtime (CLOCK_MONOTONIC, the same clock in every process of the machine), in ns. */
  endedAtNs: bigint;
  /** It could not be started at all (spawn's error, e.g. ENOENT). */
  startError?: string;
}

export interface RankProcessOptions {
  rank: number;
  /** The program and its arguments. */
  argv: string[];
  env: NodeJS.ProcessEnv;
  /** Where prefixed lines go (the launcher's stderr). */
  log: (text: string) => void;
}

/** The exit status a shell would report: the code, or 128 + the signal's number. */
export function exitStatus(end: Pick<RankEnd, 'code' | 'signal'>): number {
  if (end.code !== null) return end.code;
  const n = end.signal ? os.constants.signals[end.signal] : undefined;
  return n !== undefined ? 128 + n : 1;
}

export class RankProcess {
  readonly rank: number;
  readonly ended: Promise<RankEnd>;
  private readonly child: ChildProcess;
  private done = false;

  constructor(o: RankProcessOptions) {
    this.rank = o.rank;
    // Rank 0's stdout is the launcher's own: byte for byte, a terminal stays a terminal, and
    // `--json` summaries read from the launcher's stdout are rank 0's. Other ranks' stdout goes to
    // stderr, prefixed, so that the launcher's stdout holds nothing else.
    this.child = spawn(o.argv[0]!, o.argv.slice(1), {
      env: o.env,
      stdio: ['ignore', o.rank === 0 ? 'inherit' : 'pipe', 'pipe'],
      // In the shim's process group, which the launcher (or Open MPI) made for the shim and
      // kills as a whole at the end of a grace period: nothing the rank started outlives it.
    });
    const prefix = rankPrefix(o.rank);
    const relays: Promise<void>[] = [];
    for (const stream of [this.child.stdout, this.child.stderr]) {
      if (!stream) continue;
      const lines = new LinePrefixer(prefix, o.log);
      stream.on('data', (d: Buffer) => lines.push(d));
      relays.push(
        new Promise((resolve) => {
          stream.on('close', () => {
            lines.end();
            resolve();
          });
        }),
      );
    }
    this.ended = new Promise((resolve) => {
      const finish = (end: Omit<RankEnd, 'rank' | 'endedAtNs'>): void => {
        if (this.done) return;
        this.done = true;
        const endedAtNs = process.hrtime.bigint();
        // The output still in the pipes is relayed before the end is reported; a helper process
        // that inherited the pipes and outlives the rank must not hold the launcher: 2 s at most.
        const drained = Promise.all(relays);
        const cap = new Promise<void>((r) => setTimeout(r, 2000).unref());
        void Promise.race([drained, cap]).then(() => resolve({ rank: o.rank, endedAtNs, ...end }));
      };
      this.child.on('exit', (code, signal) => finish({ code, signal }));
      this.child.on('error', (e) => {
        // 'error' also reports a failed kill(); only a child that never started ends here.
        if (this.child.pid === undefined) finish({ code: 127, signal: null, startError: e.message });
      });
    });
  }

  get running(): boolean {
    return !this.done && this.child.pid !== undefined;
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.running) return;
    try {
      this.child.kill(signal);
    } catch {
      // ESRCH: it ended between the check and the kill; its exit event is on its way
    }
  }
}
