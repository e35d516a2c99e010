/**
 * Issue 20, class 4: API misuse from JavaScript (no type checker) is ERR_INVALID_ARGUMENT (or the
 * format's own code) naming the argument, never a TypeError from deep inside.
 */
import * as os from 'node:os';
import * as path from 'node:path';

import { compile } from '../../lib/graph/compile';
import { DataLoader } from '../../lib/data/loader';
import { loadImageFolder } from '../../lib/data/image-folder';
import { parseIdx, readIdx } from '../../lib/data/idx';
import { syntheticDataset } from '../../lib/data/synthetic';
import { loadCheckpoint, resolveCheckpoint, saveCheckpoint } from '../../lib/io/checkpoint';
import { parseSafetensors, SafetensorsFile, writeSafetensors } from '../../lib/io/safetensors';
import { openDevice } from '../../lib/runtime';
import { Vit22bError } from '../../lib/runtime/errors';
import { rejectionOf } from '../helpers/errors';

const target = path.join(os.tmpdir(), `vit22b-misuse-${process.pid}.safetensors`);

const calls: [string, () => unknown, string][] = [
  ['writeSafetensors(f, null)', () => writeSafetensors(target, null as never), 'ERR_INVALID_ARGUMENT'],
  ['writeSafetensors(f, { a: null })', () => writeSafetensors(target, { a: null as never }), 'ERR_INVALID_ARGUMENT'],
  ['writeSafetensors(f, { a: no data })', () => writeSafetensors(target, { a: { dtype: 'F32', shape: [1] } as never }), 'ERR_SAFETENSORS'],
  ['parseSafetensors(null)', () => parseSafetensors(null as never), 'ERR_INVALID_ARGUMENT'],
  ['SafetensorsFile.open(5)', () => SafetensorsFile.open(5 as never), 'ERR_INVALID_ARGUMENT'],
  ['parseIdx(null)', () => parseIdx(null as never), 'ERR_INVALID_ARGUMENT'],
  ['readIdx(5)', () => readIdx(5 as never), 'ERR_INVALID_ARGUMENT'],
  ['syntheticDataset()', () => syntheticDataset(undefined as never), 'ERR_INVALID_ARGUMENT'],
  ['new DataLoader(null, {})', () => new DataLoader(null as never, {} as never), 'ERR_INVALID_ARGUMENT'],
  ['new DataLoader(ds, undefined)', () => new DataLoader(syntheticDataset({ size: 4, seed: 0 }), undefined as never), 'ERR_INVALID_ARGUMENT'],
  ['saveCheckpoint(dir, undefined)', () => saveCheckpoint(path.join(os.tmpdir(), 'never-made'), undefined as never), 'ERR_INVALID_ARGUMENT'],
  ['loadCheckpoint(5, null)', () => loadCheckpoint(5 as never, null as never), 'ERR_INVALID_ARGUMENT'],
  ['resolveCheckpoint(undefined)', () => resolveCheckpoint(undefined as never), 'ERR_INVALID_ARGUMENT'],
  ['compile(null, { device })', () => compile(null as never, { device: openDevice({ device: 'cpu' }) }), 'ERR_INVALID_ARGUMENT'],
];

test.each(calls)('%s: a typed error', (_name, call, code) => {
  let e: unknown;
  try {
    call();
  } catch (x) {
    e = x;
  }
  expect(e).toBeInstanceOf(Vit22bError);
  expect((e as Vit22bError).code).toBe(code);
  expect((e as Vit22bError).expected).toEqual(expect.any(String));
  expect((e as Vit22bError).received).toEqual(expect.any(String));
});

test('loadImageFolder with a non-string folder or no options: typed rejections', async () => {
  for (const [dir, options] of [[5, { imageSize: 8 }], [os.tmpdir(), undefined]] as const) {
    const e = (await rejectionOf(loadImageFolder(dir as never, options as never))) as Vit22bError;
    expect(e).toBeInstanceOf(Vit22bError);
    expect(e.code).toBe('ERR_INVALID_ARGUMENT');
  }
});
