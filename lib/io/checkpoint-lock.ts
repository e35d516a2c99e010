/**
 * One writer per checkpoint directory. Two runs saving into the same directory would replace each
 * other's same-numbered checkpoints without a word, and one's pruning would delete the other's
 * in-flight temporary directory. So a writer takes `<dir>/.lock` (created exclusively, holding pid,
 * hostname and start time) and a second writer gets ERR_CHECKPOINT `locked` naming the owner.
 *
 * A crash (SIGKILL, power loss) leaves the lock behind: it is stale when its host is this one and its
 * pid is no longer alive, and is then taken over. A lock from another host cannot be checked from
 * here: the error says which host holds it and to remove the file once that run is gone.
 *
 * Re-entrant within a process (the Trainer holds it for a whole run; each save takes it again).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { checkpointError } from './checkpoint-manifest';
import { ioError, makeDirectory } from './output-path';
import { readRegularFile } from './regular-file';

export const LOCK_FILE = '.lock';

export interface LockOwner {
  pid: number;
  hostname: string;
  /** ISO time the lock was taken. */
  startedAt: string;
  /** Distinguishes two holders with the same pid (a pid reused after a crash). */
  token: string;
  /** The kernel's start time of the process (Linux: /proc/<pid>/stat field 22), when known. */
  processStart?: string;
}

/**
 * When `pid` started, in clock ticks since boot (Linux), or undefined. A lock whose pid is alive
 * but started at another time belongs to a process that is gone: the pid was reused.
 */
export function processStart(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

const held = new Map<string, { token: string; count: number }>();
let exitHookInstalled = false;

/** True when `pid` names a live process on this host (EPERM: alive, someone else's). */
export function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(file: string): LockOwner | undefined {
  try {
    const o = JSON.parse(readRegularFile(file, 4096, (_r, m) => checkpointError(file, 'lock-unreadable', m)).toString('utf8')) as Partial<LockOwner>;
    if (Number.isSafeInteger(o.pid) && typeof o.hostname === 'string' && typeof o.token === 'string') return o as LockOwner;
  } catch {
    // unreadable or half-written: handled by the caller
  }
  return undefined;
}

/** Is the lock at `file` (owned by `owner`) left by a process that is gone? */
function isStale(file: string, owner: LockOwner | undefined): boolean {
  if (owner === undefined) {
    // A lock being written right now is empty for a moment: only an old unreadable one is stale.
    try {
      return Date.now() - fs.statSync(file).mtimeMs > 10_000;
    } catch {
      return true;
    }
  }
  if (owner.hostname !== os.hostname()) return false;
  if (owner.pid === process.pid) return !held.has(path.dirname(file)) || held.get(path.dirname(file))!.token !== owner.token;
  if (!pidAlive(owner.pid)) return true;
  const now = owner.processStart === undefined ? undefined : processStart(owner.pid);
  return now !== undefined && now !== owner.processStart;
}

/**
 * Takes `dir`'s lock (creating `dir`), or throws ERR_CHECKPOINT `locked` if another live run holds
 * it. Returns the release function; locks still held are released when the process exits.
 */
export function lockCheckpointDir(dir: string): () => void {
  const key = path.resolve(dir);
  const mine = held.get(key);
  if (mine) {
    mine.count++;
    return releaser(key);
  }
  makeDirectory(key);
  const file = path.join(key, LOCK_FILE);
  const start = processStart(process.pid);
  const owner: LockOwner = { pid: process.pid, hostname: os.hostname(), startedAt: new Date().toISOString(), token: randomBytes(8).toString('hex'), ...(start ? { processStart: start } : {}) };
  // Two tries: the second after removing a stale lock.
  for (let attempt = 0; attempt < 2; ++attempt) {
    try {
      fs.writeFileSync(file, JSON.stringify(owner) + '\n', { flag: 'wx' });
      held.set(key, { token: owner.token, count: 1 });
      if (!exitHookInstalled) {
        exitHookInstalled = true;
        process.on('exit', () => {
          for (const k of [...held.keys()]) removeIfOurs(k);
        });
      }
      return releaser(key);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(e, file, 'create the checkpoint lock');
    }
    const other = readOwner(file);
    if (attempt === 0 && isStale(file, other)) {
      // Renamed aside before removal, so of two processes taking over the same stale lock only one
      // removes it; the other's rename fails and it retries against the winner's fresh lock.
      const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
      try {
        fs.renameSync(file, aside);
        fs.rmSync(aside, { force: true });
      } catch {
        // someone else took it over first
      }
      continue;
    }
    const who = other ? `pid ${other.pid} on ${other.hostname} since ${other.startedAt}` : 'an unreadable lock';
    throw checkpointError(file, 'locked', `another run is writing checkpoints here (${who}); give this run another directory, or remove ${file} once that run is gone`, {
      expected: 'no other run writing to this checkpoint directory',
      received: who,
      owner: other,
    });
  }
  throw checkpointError(file, 'locked', 'could not take the checkpoint directory lock', { expected: 'no other run writing to this checkpoint directory', received: 'a lock re-created while taking it over' });
}

function removeIfOurs(key: string): void {
  const h = held.get(key);
  held.delete(key);
  const file = path.join(key, LOCK_FILE);
  if (h && readOwner(file)?.token === h.token) fs.rmSync(file, { force: true });
}

/** A release function that counts once however often it is called. */
function releaser(key: string): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    release(key);
  };
}

function release(key: string): void {
  const h = held.get(key);
  if (!h) return;
  if (--h.count === 0) removeIfOurs(key);
}
