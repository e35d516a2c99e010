/**
 * Issue 20, class 1: every file read by path may be a FIFO, a device, a directory or a file that
 * grows. Each reader refuses what is not a regular file with a typed error naming the path, and reads
 * at most what it expects. A hang would fail these tests by jest's deadline, not pass them slowly.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { resolveModel } from '../../lib/cli/model-option';
import { loadImageFolder, withDeadline } from '../../lib/data/image-folder';
import { readIdx } from '../../lib/data/idx';
import { hashFile, readManifest, verifyCheckpointFiles, type CheckpointManifest } from '../../lib/io/checkpoint-manifest';
import { SafetensorsFile } from '../../lib/io/safetensors';
import { readFully } from '../../lib/io/regular-file';
import { writeAll } from '../../lib/io/atomic-file';
import { Vit22bError } from '../../lib/runtime/errors';
import { thrownBy, rejectionOf } from '../helpers/errors';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-nonreg-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let seq = 0;
function fifo(name = `f${++seq}`): string {
  const p = path.join(tmp, name);
  execFileSync('mkfifo', [p]);
  return p;
}
function devZeroLink(name = `z${++seq}`): string {
  const p = path.join(tmp, name);
  fs.symlinkSync('/dev/zero', p);
  return p;
}
function directory(name = `d${++seq}`): string {
  const p = path.join(tmp, name);
  fs.mkdirSync(p);
  return p;
}

const kinds: [string, () => string, RegExp][] = [
  ['a FIFO', () => fifo(), /FIFO/],
  ['/dev/zero', () => devZeroLink(), /character device/],
  ['a directory', () => directory(), /directory/],
];

describe.each(kinds)('%s in place of a file', (_what, make, kind) => {
  test('safetensors: ERR_SAFETENSORS file-unreadable naming the path', () => {
    const p = make();
    const e = thrownBy(() => SafetensorsFile.open(p)) as Vit22bError;
    expect(e).toBeInstanceOf(Vit22bError);
    expect(e).toMatchObject({ code: 'ERR_SAFETENSORS', expected: 'a regular file', details: { file: p, rule: 'file-unreadable', reason: 'not-a-regular-file' } });
    expect(e.received).toMatch(kind);
  });

  test('checkpoint file: the hash refuses it instead of reading to its end', () => {
    const dir = directory();
    const p = make();
    fs.renameSync(p, path.join(dir, 'model.safetensors'));
    const m: CheckpointManifest = { format: 'vit22b-checkpoint', version: 1, step: 1, worldSize: 1, files: [{ name: 'model.safetensors', bytes: 64, sha256: '0'.repeat(64) }] };
    const e = thrownBy(() => verifyCheckpointFiles(dir, m)) as Vit22bError;
    expect(e).toMatchObject({ code: 'ERR_CHECKPOINT', expected: 'a regular file', details: { file: path.join(dir, 'model.safetensors'), rule: 'not-a-regular-file' } });
  });

  test('manifest.json: ERR_CHECKPOINT not-a-regular-file', () => {
    const dir = directory();
    fs.renameSync(make(), path.join(dir, 'manifest.json'));
    const e = thrownBy(() => readManifest(dir)) as Vit22bError;
    expect(e).toMatchObject({ code: 'ERR_CHECKPOINT', details: { file: path.join(dir, 'manifest.json'), rule: 'not-a-regular-file' } });
    expect(e.received).toMatch(kind);
  });

  test('IDX: ERR_DATA_NOT_FOUND unreadable, kind not-a-regular-file', () => {
    const p = make();
    const e = thrownBy(() => readIdx(p)) as Vit22bError;
    expect(e).toMatchObject({ code: 'ERR_DATA_NOT_FOUND', expected: 'a regular file', details: { file: p, reason: 'unreadable', kind: 'not-a-regular-file' } });
  });

  test('--config: ERR_INVALID_CONFIG naming the file', () => {
    const p = make();
    const e = thrownBy(() => resolveModel(undefined, p)) as Vit22bError;
    expect(e).toMatchObject({ code: 'ERR_INVALID_CONFIG', details: { file: p } });
    expect(e.message).toMatch(kind);
  });
});

test('a FIFO or a /dev/zero link named like an image in an image folder: ERR_DATA_CORRUPT naming it, before any decode', async () => {
  for (const make of [(p: string) => execFileSync('mkfifo', [p]), (p: string) => fs.symlinkSync('/dev/zero', p)]) {
    const root = directory();
    fs.mkdirSync(path.join(root, 'a'));
    const bad = path.join(root, 'a', 'x.png');
    make(bad);
    const e = (await rejectionOf(loadImageFolder(root, { imageSize: 8 }))) as Vit22bError;
    expect(e).toMatchObject({ code: 'ERR_DATA_CORRUPT', expected: 'a regular file', details: { file: bad, reason: 'not-a-regular-file' } });
  }
});

test('a checkpoint file larger than the manifest says is not read past its size + 1 byte', () => {
  const p = path.join(tmp, 'big.bin');
  fs.writeFileSync(p, Buffer.alloc(1 << 20, 7));
  const full = hashFile(p);
  expect(full.bytes).toBe(1 << 20);
  // The size is still reported whole (from fstat), so the error says what is on disk.
  const capped = hashFile(p, 100);
  expect(capped.bytes).toBe(1 << 20);
  expect(capped.sha256).not.toBe(full.sha256);
});

test('writes of 2 GiB or more go in chunks fs.writeSync accepts (shown with a small chunk)', () => {
  const p = path.join(tmp, 'wchunks.bin');
  const data = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff);
  const fd = fs.openSync(p, 'w');
  try {
    writeAll(fd, data, 7);
  } finally {
    fs.closeSync(fd);
  }
  expect(fs.readFileSync(p).equals(Buffer.from(data))).toBe(true);
});

test('reads of 2 GiB or more go in chunks fs.readSync accepts (shown with a small chunk)', () => {
  const p = path.join(tmp, 'chunks.bin');
  const data = Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff);
  fs.writeFileSync(p, data);
  const fd = fs.openSync(p, 'r');
  try {
    const into = new Uint8Array(990);
    expect(readFully(fd, into, 10, 7)).toBe(990);
    expect(Buffer.from(into).equals(Buffer.from(data.subarray(10)))).toBe(true);
  } finally {
    fs.closeSync(fd);
  }
});

test('withDeadline: a wait that never ends is a typed error once its deadline passes', async () => {
  const never = new Promise<number>(() => {});
  const e = await rejectionOf(withDeadline(never, 20, () => new Vit22bError('ERR_DATA_CORRUPT', 'late', { reason: 'decode-timeout' })));
  expect(e).toMatchObject({ code: 'ERR_DATA_CORRUPT', details: { reason: 'decode-timeout' } });
  await expect(withDeadline(Promise.resolve(7), 20, () => new Error('no'))).resolves.toBe(7);
});
