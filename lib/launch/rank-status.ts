/**
 * How each rank ended, as the shim saw it, in a file per rank of a folder the launcher made: the
 * launcher (which under mpirun sees only mpirun's exit) names the rank that failed first from these.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { RankEnd } from './rank-process';

export interface RankStatus {
  rank: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  startError?: string;
  /** The shim had been told to stop (a signal) before its rank ended: a consequence, not a cause. */
  stopped: boolean;
  /** CLOCK_MONOTONIC in ns, as a decimal string (JSON has no 64-bit integers). */
  endedAtNs: string;
}

export function writeRankStatus(dir: string, end: RankEnd, stopped: boolean): void {
  const status: RankStatus = {
    rank: end.rank,
    code: end.code,
    signal: end.signal,
    ...(end.startError !== undefined ? { startError: end.startError } : {}),
    stopped,
    endedAtNs: end.endedAtNs.toString(),
  };
  const file = path.join(dir, `rank-${end.rank}.json`);
  // Written whole, then renamed: the launcher never reads half a status.
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(status));
  fs.renameSync(`${file}.tmp`, file);
}

export function readRankStatuses(dir: string): RankStatus[] {
  const out: RankStatus[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    if (!/^rank-\d+\.json$/.test(name)) continue;
    try {
      out.push(JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as RankStatus);
    } catch {
      // unreadable: that rank's shim died while writing; its exit is still seen by its parent
    }
  }
  return out;
}

/** The failure that came first and was not itself the teardown of another one. */
export function firstFailure(statuses: RankStatus[]): RankStatus | undefined {
  const failed = statuses.filter((s) => !s.stopped && (s.code !== 0 || s.signal !== null));
  failed.sort((a, b) => (BigInt(a.endedAtNs) < BigInt(b.endedAtNs) ? -1 : BigInt(a.endedAtNs) > BigInt(b.endedAtNs) ? 1 : a.rank - b.rank));
  return failed[0];
}
