/**
 * Opening and reading files that a user or an attacker named. Anything read by path may be a FIFO (an
 * open for reading waits for a writer forever), a device (/dev/zero never ends), a directory, or a
 * file that grows while we read. So: open without blocking, fstat the descriptor (not the path, which
 * could be swapped between the two calls), refuse what is not a regular file, and read at most the
 * size we expect. The caller chooses the error (its code and rule), so each format keeps its own.
 */
import * as fs from 'node:fs';
import type { Vit22bError } from '../runtime/errors';

/** Builds the caller's typed error: `reason` is a stable rule name, `received` what was found. */
export type FileErrorFactory = (reason: 'file-unreadable' | 'not-a-regular-file' | 'file-too-large', message: string, extra: { expected?: string; received?: string }) => Vit22bError;

/** fs.readSync refuses a length of 2 GiB or more: larger reads go in chunks of this size. */
export const MAX_READ_CHUNK = 1 << 30;

/** What a stat says a path is, in words for an error message. */
export function fileKind(st: fs.Stats): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Opens `file` for reading and returns the descriptor and its size, or throws the caller's error if
 * it cannot be opened or is not a regular file. O_NONBLOCK: opening a FIFO for reading would otherwise
 * wait for a writer with no deadline; on a regular file the flag changes nothing.
 */
export function openRegularFile(file: string, fail: FileErrorFactory): { fd: number; size: number } {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw fail('file-unreadable', `cannot open ${file} (${code})`, { expected: 'a readable regular file', received: code });
  }
  let st: fs.Stats;
  try {
    st = fs.fstatSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw fail('file-unreadable', `cannot stat ${file} (${code})`, { expected: 'a readable regular file', received: code });
  }
  if (!st.isFile()) {
    fs.closeSync(fd);
    throw fail('not-a-regular-file', `${file} is ${fileKind(st)}, not a regular file`, { expected: 'a regular file', received: fileKind(st) });
  }
  return { fd, size: st.size };
}

/** Reads into `into` from `position` until it is full or the file ends, in chunks fs.readSync accepts; returns the bytes read. */
export function readFully(fd: number, into: Uint8Array, position: number, maxChunk = MAX_READ_CHUNK): number {
  let done = 0;
  while (done < into.length) {
    const got = fs.readSync(fd, into, done, Math.min(maxChunk, into.length - done), position + done);
    if (got === 0) break;
    done += got;
  }
  return done;
}

/**
 * A whole small file (JSON: manifests, trainer state, configs), refusing a non-regular file and one
 * above `maxBytes`. Reads at most the size fstat reported, so a file that grows cannot keep us here.
 */
export function readRegularFile(file: string, maxBytes: number, fail: FileErrorFactory): Buffer {
  const { fd, size } = openRegularFile(file, fail);
  try {
    if (size > maxBytes) throw fail('file-too-large', `${file} is ${size} bytes, above the ${maxBytes}-byte limit for this kind of file`, { expected: `<= ${maxBytes} bytes`, received: `${size} bytes` });
    const out = Buffer.alloc(size);
    const got = readFully(fd, out, 0);
    return out.subarray(0, got);
  } finally {
    fs.closeSync(fd);
  }
}
