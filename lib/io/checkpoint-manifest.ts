/**
 * A checkpoint's manifest.json: the format version, the step, and the size and SHA-256 of every
 * other file in the checkpoint. Verifying it is what makes a checkpoint usable: a file that is
 * missing, truncated or altered by even one byte fails here, before any of it is loaded.
 *
 * Ready for sharding: `files` is a list, so a sharded run can name each rank's shard files there
 * (with `rank` fields) under one manifest; today every checkpoint has one rank.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Vit22bError } from '../runtime/errors';

export const CHECKPOINT_FORMAT = 'vit22b-checkpoint';
export const CHECKPOINT_VERSION = 1;
export const MANIFEST_FILE = 'manifest.json';

export interface ManifestFile {
  name: string;
  bytes: number;
  sha256: string;
}

export interface CheckpointManifest {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  step: number;
  worldSize: number;
  files: ManifestFile[];
}

export function checkpointError(file: string, rule: string, message: string, extra: { expected?: string; received?: string; [k: string]: unknown } = {}): Vit22bError {
  return new Vit22bError('ERR_CHECKPOINT', `${file}: ${message}`, { file, rule, ...extra });
}

/** SHA-256 and size of a file, read in 8 MB chunks (never whole). */
export function hashFile(file: string): { bytes: number; sha256: string } {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const chunk = new Uint8Array(8 << 20);
  let bytes = 0;
  try {
    for (;;) {
      const got = fs.readSync(fd, chunk, 0, chunk.length, bytes);
      if (got === 0) break;
      hash.update(chunk.subarray(0, got));
      bytes += got;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { bytes, sha256: hash.digest('hex') };
}

/** Reads and checks manifest.json's shape (not the files: verifyCheckpointFiles does that). */
export function readManifest(dir: string): CheckpointManifest {
  const file = path.join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw checkpointError(file, 'manifest-missing', `no readable manifest (${(e as NodeJS.ErrnoException).code ?? String(e)}): not a committed checkpoint`);
  }
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    throw checkpointError(file, 'manifest-invalid', 'manifest is not JSON');
  }
  const o = m as Partial<CheckpointManifest> | null;
  const fileOk = (f: unknown) => {
    const x = f as ManifestFile | null;
    return !!x && typeof x.name === 'string' && path.basename(x.name) === x.name && x.name !== MANIFEST_FILE && Number.isSafeInteger(x.bytes) && /^[0-9a-f]{64}$/.test(String(x.sha256));
  };
  if (!o || o.format !== CHECKPOINT_FORMAT || !Number.isSafeInteger(o.step) || !Array.isArray(o.files) || !o.files.every(fileOk)) {
    throw checkpointError(file, 'manifest-invalid', `not a ${CHECKPOINT_FORMAT} manifest`, { expected: `{ format: "${CHECKPOINT_FORMAT}", step, files: [{ name, bytes, sha256 }] }` });
  }
  if (o.version !== CHECKPOINT_VERSION) {
    throw checkpointError(file, 'version-unsupported', `checkpoint format version ${String(o.version)} is not supported`, { expected: String(CHECKPOINT_VERSION), received: String(o.version) });
  }
  return o as CheckpointManifest;
}

/** Checks every file the manifest lists against its size and SHA-256. */
export function verifyCheckpointFiles(dir: string, manifest: CheckpointManifest): void {
  for (const f of manifest.files) {
    const file = path.join(dir, f.name);
    let got: { bytes: number; sha256: string };
    try {
      got = hashFile(file);
    } catch (e) {
      throw checkpointError(file, 'file-missing', `listed in the manifest but not readable (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
    if (got.bytes !== f.bytes) {
      throw checkpointError(file, got.bytes < f.bytes ? 'file-truncated' : 'file-size-mismatch', `is ${got.bytes} bytes, the manifest says ${f.bytes}`, {
        expected: `${f.bytes} bytes`,
        received: `${got.bytes} bytes`,
      });
    }
    if (got.sha256 !== f.sha256) {
      throw checkpointError(file, 'hash-mismatch', 'SHA-256 differs from the manifest: the file is corrupt', { expected: f.sha256, received: got.sha256 });
    }
  }
}
