/**
 * Where we write: output folders and files named by the user. Two rules:
 *
 * - Check before computing: a run that trains for an hour and then finds `--out` is a file has
 *   wasted the hour. `ensureOutputDir` and `checkOutputFile` are called when a command starts.
 * - File-system failures are typed: ERR_IO naming the path, with the system's code (ENOTDIR, EROFS,
 *   ENOSPC, EACCES, EISDIR, ...) as `received`, never a raw Node error with a stack trace.
 *
 * Folders are made one component at a time with plain mkdir: Node's recursive mkdir loops forever
 * under /proc (its ENOENT retry never ends there), and a bounded walk cannot.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Vit22bError } from '../runtime/errors';

/** What the user can do about each system error. */
const ADVICE: Record<string, string> = {
  ENOTDIR: 'a part of the path is a file, not a folder',
  EEXIST: 'something that is not a folder is already there',
  EISDIR: 'it is a folder, and a file is needed',
  EROFS: 'the file system is read-only: choose a path on a writable one',
  ENOSPC: 'the disk is full: free space or choose another disk',
  EDQUOT: 'the disk quota is exhausted',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'a folder on the path does not exist',
  ENAMETOOLONG: 'the path is too long',
  ELOOP: 'too many symbolic links on the path',
};

/** A Node file-system error as ERR_IO naming the path and the operation. */
export function ioError(e: unknown, file: string, action: string): Vit22bError {
  if (e instanceof Vit22bError) return e;
  const code = (e as NodeJS.ErrnoException).code ?? 'unknown';
  const advice = ADVICE[code];
  return new Vit22bError('ERR_IO', `cannot ${action} ${file}: ${code}${advice ? ` (${advice})` : ''}`, {
    file,
    syscall: (e as NodeJS.ErrnoException).syscall,
    expected: `to ${action} ${file}`,
    received: code,
  });
}

/** True for an error Node's fs raised (an errno code and a syscall). */
export function isSystemError(e: unknown): e is NodeJS.ErrnoException {
  const x = e as NodeJS.ErrnoException | null;
  return !!x && typeof x === 'object' && typeof x.code === 'string' && /^E[A-Z]+$/.test(x.code) && typeof x.syscall === 'string';
}

/** Makes `dir` and its parents (a bounded walk), or throws ERR_IO naming the component that failed. */
export function makeDirectory(dir: string): void {
  const full = path.resolve(dir);
  const parts: string[] = [];
  for (let p = full; ; p = path.dirname(p)) {
    parts.unshift(p);
    if (path.dirname(p) === p) break;
  }
  for (const p of parts) {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(e, p, 'create the folder');
    }
    if (st) {
      if (!st.isDirectory()) throw ioError(Object.assign(new Error('not a folder'), { code: 'ENOTDIR' }), p, 'create the folder');
      continue;
    }
    try {
      fs.mkdirSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && isDirectory(p)) continue; // made meanwhile
      throw ioError(e, p, 'create the folder');
    }
  }
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Makes the output folder `dir` and proves it writable by creating and removing a probe file, so a
 * read-only file system or a missing permission is found before any work.
 */
export function ensureOutputDir(dir: string): void {
  makeDirectory(dir);
  const probe = path.join(dir, `.vit22b-write-test-${process.pid}`);
  try {
    fs.writeFileSync(probe, '');
  } catch (e) {
    throw ioError(e, dir, 'write into the folder');
  }
  fs.rmSync(probe, { force: true });
}

/**
 * Checks that `file` can be written later: not a folder (nor a FIFO or device), and its folder
 * exists (or can be made) and is writable. Nothing is left behind.
 */
export function checkOutputFile(file: string): void {
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(e, file, 'write');
  }
  if (st && !st.isFile()) {
    throw ioError(Object.assign(new Error('not a file'), { code: st.isDirectory() ? 'EISDIR' : 'EINVAL' }), file, 'write');
  }
  ensureOutputDir(path.dirname(path.resolve(file)));
}
