/**
 * A checkpoint's manifest.json: the format version, the step, and the size and SHA-256 of every
 * other file in the checkpoint. Verifying it is what makes a checkpoint usable: a file that is
 * missing, truncated or altered by even one byte fails here, before any of it is loaded.
 *
 * Two layouts under the same manifest: 'single' (model.safetensors and optimizer.safetensors hold
 * global tensors) and 'sharded' (index.json and one rank-<r>.safetensors per device: each device's
 * slices, lib/io/sharded-checkpoint.ts). A manifest without `layout` is 'single' (written before
 * sharded checkpoints existed).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Vit22bError } from '../runtime/errors';
import { jsonDepth, MAX_JSON_DEPTH } from './json-depth';
import { openRegularFile, readRegularFile } from './regular-file';

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
  /** The devices that saved it (a mesh's data x model). */
  worldSize: number;
  /** How the tensors are stored; absent means 'single'. */
  layout?: CheckpointLayout;
  /** The mesh a sharded checkpoint was saved on (informational: it loads on any mesh). */
  mesh?: { data: number; model: number };
  files: ManifestFile[];
}

export type CheckpointLayout = 'single' | 'sharded';

/** A manifest's layout, 'single' when not recorded. */
export function layoutOf(m: CheckpointManifest): CheckpointLayout {
  return m.layout ?? 'single';
}

export function checkpointError(file: string, rule: string, message: string, extra: { expected?: string; received?: string; [k: string]: unknown } = {}): Vit22bError {
  return new Vit22bError('ERR_CHECKPOINT', `${file}: ${message}`, { file, rule, ...extra });
}

/** A manifest or trainer.json above this is not ours: refused before it is read. */
export const MAX_JSON_BYTES = 64 << 20;

/**
 * SHA-256 and size of a file, read in 8 MB chunks (never whole). With `expectedBytes`, reads at most
 * that many bytes plus one: a file linked to /dev/zero, or one that grows, cannot keep the hash reading.
 * Non-regular files (FIFOs, devices, directories) are refused before any read.
 */
export function hashFile(file: string, expectedBytes?: number): { bytes: number; sha256: string } {
  const hash = createHash('sha256');
  const { fd, size } = openRegularFile(file, (reason, message, extra) => checkpointError(file, reason === 'not-a-regular-file' ? 'not-a-regular-file' : 'file-missing', message.replace(`${file} `, ''), extra));
  const limit = expectedBytes === undefined ? size : expectedBytes + 1;
  const chunk = new Uint8Array(8 << 20);
  let bytes = 0;
  try {
    while (bytes < limit) {
      const got = fs.readSync(fd, chunk, 0, Math.min(chunk.length, limit - bytes), bytes);
      if (got === 0) break;
      hash.update(chunk.subarray(0, got));
      bytes += got;
    }
  } finally {
    fs.closeSync(fd);
  }
  // The size on disk when opened, if larger than what was read: the error then names the real size.
  return { bytes: Math.max(bytes, size), sha256: hash.digest('hex') };
}

/** Reads a checkpoint's JSON file: a regular file, not above MAX_JSON_BYTES, as UTF-8 text. */
export function readCheckpointJson(file: string, missingRule: string): string {
  return readRegularFile(file, MAX_JSON_BYTES, (reason, message, extra) => checkpointError(file, reason === 'file-unreadable' ? missingRule : reason, message.replace(`${file} `, ''), extra)).toString('utf8');
}

/** Reads and checks manifest.json's shape (not the files: verifyCheckpointFiles does that). */
export function readManifest(dir: string): CheckpointManifest {
  const file = path.join(dir, MANIFEST_FILE);
  const text = readCheckpointJson(file, 'manifest-missing');
  if (jsonDepth(text) > MAX_JSON_DEPTH) throw checkpointError(file, 'manifest-invalid', `nests deeper than ${MAX_JSON_DEPTH} levels`, { expected: `depth <= ${MAX_JSON_DEPTH}`, received: `depth ${jsonDepth(text)}` });
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (e) {
    throw checkpointError(file, 'manifest-invalid', 'manifest is not JSON', { expected: 'JSON', received: (e as Error).message });
  }
  const o = m as Partial<CheckpointManifest> | null;
  const fileOk = (f: unknown) => {
    const x = f as ManifestFile | null;
    return !!x && typeof x.name === 'string' && path.basename(x.name) === x.name && x.name !== MANIFEST_FILE && Number.isSafeInteger(x.bytes) && x.bytes >= 0 && /^[0-9a-f]{64}$/.test(String(x.sha256));
  };
  if (!o || o.format !== CHECKPOINT_FORMAT || !Number.isSafeInteger(o.step) || !Array.isArray(o.files) || !o.files.every(fileOk)) {
    throw checkpointError(file, 'manifest-invalid', `not a ${CHECKPOINT_FORMAT} manifest`, {
      expected: `{ format: "${CHECKPOINT_FORMAT}", step, files: [{ name, bytes, sha256 }] }`,
      received: o === null || typeof o !== 'object' ? String(o) : `keys ${Object.keys(o).slice(0, 8).join(', ') || '(none)'}`,
    });
  }
  if (o.layout !== undefined && o.layout !== 'single' && o.layout !== 'sharded') {
    throw checkpointError(file, 'manifest-invalid', `layout ${JSON.stringify(o.layout)} is not one this version reads`, { expected: 'single or sharded', received: String(o.layout) });
  }
  if (o.version !== CHECKPOINT_VERSION) {
    throw checkpointError(file, 'version-unsupported', `checkpoint format version ${String(o.version)} is not supported`, { expected: String(CHECKPOINT_VERSION), received: String(o.version) });
  }
  const names = o.files.map((f) => f.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw checkpointError(file, 'manifest-invalid', `lists ${JSON.stringify(dup)} twice`, { expected: 'each file once', received: dup });
  return o as CheckpointManifest;
}

/**
 * Every file a loader will read must be listed (and so hashed): a manifest that lists none would
 * otherwise verify and let unhashed weights through.
 */
export function requireListed(dir: string, manifest: CheckpointManifest, names: readonly string[]): void {
  const listed = new Set(manifest.files.map((f) => f.name));
  const missing = names.filter((n) => !listed.has(n));
  if (missing.length > 0) {
    throw checkpointError(path.join(dir, MANIFEST_FILE), 'manifest-incomplete', `does not list ${missing.join(', ')}, which loading reads: those files would be used unverified`, {
      expected: names.join(', '),
      received: [...listed].join(', ') || 'no files',
      missing,
    });
  }
}

/** Checks every file the manifest lists against its size and SHA-256. */
export function verifyCheckpointFiles(dir: string, manifest: CheckpointManifest): void {
  for (const f of manifest.files) {
    const file = path.join(dir, f.name);
    const got = hashFile(file, f.bytes);
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
