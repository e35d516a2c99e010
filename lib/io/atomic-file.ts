/**
 * Crash-safe file writes: content goes to a temporary name beside the target, is fsynced, then
 * renamed over the target (rename is atomic within a file system), then the directory is fsynced so
 * the rename itself survives a power loss. A crash at any moment leaves the old file or the new one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ioError, isSystemError } from './output-path';

/** A temporary name beside `file`, unique per process and call. */
export function tempNameFor(file: string): string {
  return `${file}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
}

/**
 * Writes all of `bytes` at the descriptor's current position (writeSync may write less than asked),
 * in chunks of at most 1 GiB: fs.writeSync refuses a length of 2 GiB or more.
 */
export function writeAll(fd: number, bytes: Uint8Array, maxChunk = 1 << 30): void {
  let done = 0;
  while (done < bytes.length) done += fs.writeSync(fd, bytes, done, Math.min(maxChunk, bytes.length - done));
}

/** fsyncs a directory, so renames and creations inside it are durable. */
export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes `file` atomically: `write(fd)` fills a temporary file, which is fsynced and renamed over
 * `file`. On any failure the temporary file is removed and the target is untouched.
 */
export function writeFileAtomic(file: string, write: (fd: number) => void): void {
  const tmp = tempNameFor(file);
  let fd: number;
  try {
    fd = fs.openSync(tmp, 'wx');
  } catch (e) {
    throw ioError(e, file, 'write');
  }
  try {
    try {
      write(fd);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    // ENOSPC, EIO, or a folder under the target name (rename's EISDIR): typed, naming the file.
    throw isSystemError(e) ? ioError(e, file, 'write') : e;
  }
  fsyncDir(path.dirname(path.resolve(file)));
}
