/**
 * The launcher's side of a job: start the rank shims (itself, or through mpirun), watch them, and
 * end the job like torchrun: when a rank fails, the others get SIGTERM, then SIGKILL after the grace
 * period, and the launcher exits with the first failure's status, naming its rank. SIGTERM/SIGINT
 * to the launcher are passed on to every rank; the launcher then exits 143/130.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { exitStatus } from './rank-process';
import { firstFailure, readRankStatuses, type RankStatus } from './rank-status';

export interface LaunchMember {
  /** The global rank of a shim we started; undefined for mpirun (which stands for all its ranks). */
  rank?: number;
  argv: string[];
  env: NodeJS.ProcessEnv;
}

export interface JobOptions {
  members: LaunchMember[];
  graceMs: number;
  statusDir: string;
  /** The launcher's own messages (stderr). */
  log: (text: string) => void;
}

interface Running {
  member: LaunchMember;
  child: ChildProcess;
  ended: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * The launcher's own SIGKILL comes this long after the shims' (which kill their rank at the end of
 * the grace period, reap it and record how it ended): a backstop for a shim that is itself stuck.
 */
export const BACKSTOP_MS = 2000;

export function makeStatusDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-launch-'));
}

function describe(s: Pick<RankStatus, 'code' | 'signal' | 'startError'>): string {
  if (s.startError !== undefined) return `could not be started (${s.startError})`;
  return s.signal ? `was killed by ${s.signal}` : `exited with code ${s.code}`;
}

/** Runs the job to its end; resolves with the launcher's exit status. Never leaves a member running. */
export function runJob(o: JobOptions): Promise<number> {
  return new Promise((resolve) => {
    const running: Running[] = [];
    let stopping = false;
    let stoppedBy: NodeJS.Signals | undefined;
    let trigger: Running | undefined;
    let killTimer: NodeJS.Timeout | undefined;

    // Each member leads its own process group: the shim, the rank under it and whatever the rank
    // started are killed together at the end of the grace period.
    const killGroup = (r: Running, signal: NodeJS.Signals): void => {
      if (r.child.pid === undefined) return;
      try {
        process.kill(-r.child.pid, signal);
      } catch {
        // ESRCH: the group is already empty
      }
    };
    // A polite signal goes to the member itself, which passes it to its rank (once).
    const signalMember = (r: Running, signal: NodeJS.Signals): void => {
      if (r.ended || r.child.pid === undefined) return;
      try {
        r.child.kill(signal);
      } catch {
        // it just ended
      }
    };
    const stopAll = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      for (const r of running) signalMember(r, signal);
      killTimer = setTimeout(() => {
        for (const r of running) if (!r.ended) killGroup(r, 'SIGKILL');
      }, o.graceMs + BACKSTOP_MS);
    };
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stoppedBy !== undefined) {
        // A second Ctrl-C: no more grace.
        for (const r of running) killGroup(r, 'SIGKILL');
        return;
      }
      stoppedBy = signal;
      o.log(`vit22b launch: ${signal} received: stopping every rank\n`);
      stopAll(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);

    const finish = (): void => {
      clearTimeout(killTimer);
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      const statuses = readRankStatuses(o.statusDir);
      fs.rmSync(o.statusDir, { recursive: true, force: true });
      if (stoppedBy !== undefined) {
        resolve(128 + os.constants.signals[stoppedBy]);
        return;
      }
      const first = firstFailure(statuses);
      if (first) {
        o.log(`vit22b launch: rank ${first.rank} failed first: it ${describe(first)}; every rank has stopped\n`);
        resolve(exitStatus(first));
        return;
      }
      if (trigger) {
        // No shim recorded a failure: the member itself died (a shim killed from outside, or
        // mpirun refusing to start).
        const who = trigger.member.rank !== undefined ? `rank ${trigger.member.rank}'s launcher process` : 'mpirun';
        o.log(`vit22b launch: ${who} ${describe({ code: trigger.code, signal: trigger.signal })}; every rank has stopped\n`);
        resolve(exitStatus(trigger));
        return;
      }
      resolve(0);
    };

    for (const member of o.members) {
      const child: ChildProcess = spawn(member.argv[0]!, member.argv.slice(1), {
        env: member.env,
        // The shims write rank 0's stdout here untouched and everything else prefixed to stderr.
        stdio: ['ignore', 'inherit', 'inherit'],
        detached: true,
      });
      const r: Running = { member, child, ended: false, code: null, signal: null };
      running.push(r);
      const ended = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (r.ended) return;
        r.ended = true;
        r.code = code;
        r.signal = signal;
        // Whatever is left in its group (a rank whose shim was killed) goes now.
        killGroup(r, 'SIGKILL');
        if ((code !== 0 || signal !== null) && !stopping) {
          trigger = r;
          const statuses = readRankStatuses(o.statusDir);
          const own = r.member.rank !== undefined ? statuses.find((s) => s.rank === r.member.rank) : firstFailure(statuses);
          const who = own ? `rank ${own.rank} ${describe(own)}` : `${r.member.rank !== undefined ? `rank ${r.member.rank}` : 'mpirun'} ${describe({ code, signal })}`;
          o.log(`vit22b launch: ${who}: stopping the other ranks\n`);
          stopAll('SIGTERM');
        }
        if (running.every((x) => x.ended)) finish();
      };
      child.on('exit', ended);
      child.on('error', (e) => {
        if (child.pid === undefined) {
          o.log(`vit22b launch: cannot start ${member.argv[0]}: ${e.message}\n`);
          ended(127, null);
        }
      });
    }
  });
}
