// Image folders (lib/data/image-folder.ts): PNG and JPEG files generated here with sharp, decoded,
// converted and resized, checked against the colours and layouts they were made with; the broken
// and empty cases; and the optional dependency's absence.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import sharp from 'sharp';

type SharpImage = ReturnType<typeof sharp>;

import { loadImageFolder } from '../../lib/data/image-folder';
import { loadOptionalDependency } from '../../lib/data/optional-dependency';
import { isVit22bError, type Vit22bError } from '../../lib/runtime/errors';
import { rejectionOf, thrownBy } from '../helpers/errors';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-folder-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

/** A solid image of one colour (RGB, RGBA or grey by the colour's length) of any size. */
function solid(width: number, height: number, colour: number[]): SharpImage {
  const channels = colour.length as 1 | 3 | 4;
  const data = Buffer.alloc(width * height * channels);
  for (let i = 0; i < width * height; i++) for (let c = 0; c < channels; c++) data[i * channels + c] = colour[c]!;
  return sharp(data, { raw: { width, height, channels } });
}

async function write(rel: string, image: SharpImage): Promise<string> {
  const file = path.join(root, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await image.toFile(file);
  return file;
}

/** Every pixel of image i of a [N, H, W, C] set. */
function pixelsOf(images: Uint8Array, i: number, pixels: number, channels: number): number[][] {
  const out: number[][] = [];
  for (let p = 0; p < pixels; p++) out.push(Array.from(images.subarray((i * pixels + p) * channels, (i * pixels + p + 1) * channels)));
  return out;
}

describe('loadImageFolder', () => {
  test('classes from sorted sub-folder names, files in order, colours kept, sizes unified', async () => {
    // Code-point order: 'Zebra' < 'ant' < 'bee' (upper case first), whatever the locale says.
    await write('bee/2.png', solid(9, 5, [10, 120, 250])); // RGB PNG, wide
    await write('bee/10.png', solid(6, 6, [200, 30, 60]));
    await write('ant/a.jpg', solid(12, 16, [40, 180, 90])); // JPEG, tall
    await write('Zebra/nested/z.png', solid(8, 8, [77])); // grey PNG, in a sub-folder
    await write('Zebra/y.png', solid(7, 3, [255, 255, 255, 128])); // half-transparent white
    fs.writeFileSync(path.join(root, 'bee', 'notes.txt'), 'not an image');
    fs.writeFileSync(path.join(root, 'stray.png'), 'a file at the top level is not a class');

    const ds = await loadImageFolder(root, { imageSize: 4 });
    expect(ds.classNames).toEqual(['Zebra', 'ant', 'bee']);
    expect(ds.numClasses).toBe(3);
    expect(ds.size).toBe(5);
    expect(ds.imageShape).toEqual([4, 4, 3]);
    expect(ds.skippedFiles).toBe(1);
    expect(ds.source).toBe(root);
    expect(ds.name).toBe(path.basename(root));
    // Within a class, by code point too: 'nested' < 'y.png'; '10.png' < '2.png'.
    expect(Array.from(ds.labels)).toEqual([0, 0, 1, 2, 2]);
    const expected: [number[], number][] = [
      [[77, 77, 77], 0], // grey replicated to RGB
      [[128, 128, 128], 0], // white at alpha 128 over black
      [[40, 180, 90], 3], // JPEG: near, not exact
      [[200, 30, 60], 0],
      [[10, 120, 250], 0],
    ];
    expected.forEach(([colour, tolerance], i) => {
      for (const px of pixelsOf(ds.images, i, 16, 3)) {
        for (let c = 0; c < 3; c++) expect(Math.abs(px[c]! - colour[c]!)).toBeLessThanOrEqual(tolerance);
      }
    });
    // Statistics of what was loaded, per channel (R of all 80 pixels, etc.).
    const red = expected.map(([colour]) => colour[0]!).reduce((a, b) => a + b, 0) / 5 / 255;
    expect(ds.mean[0]).toBeCloseTo(red, 2);
  });

  test('fit: cover crops the centre, fill stretches, contain pads with black', async () => {
    // 16x8: the left quarter red, the rest blue.
    const data = Buffer.alloc(16 * 8 * 3);
    for (let y = 0; y < 8; y++) for (let x = 0; x < 16; x++) data.set(x < 4 ? [255, 0, 0] : [0, 0, 255], (y * 16 + x) * 3);
    await write('only/a.png', sharp(data, { raw: { width: 16, height: 8, channels: 3 } }));
    const red = (px: number[]) => px[0]! > 200 && px[2]! < 50;
    const blue = (px: number[]) => px[2]! > 200 && px[0]! < 50;
    const black = (px: number[]) => px.every((v) => v < 20);
    const row = async (fit: 'cover' | 'fill' | 'contain') => {
      const ds = await loadImageFolder(root, { imageSize: [8, 8], fit });
      return pixelsOf(ds.images, 0, 64, 3).slice(32, 40); // row 4 (the middle)
    };
    // cover: scale to 16x8 (already), keep the centre columns 4..11, all blue.
    expect((await row('cover')).every(blue)).toBe(true);
    // fill: squeeze 16 columns into 8, the red quarter becomes columns 0-1.
    const fill = await row('fill');
    expect(red(fill[0]!)).toBe(true);
    expect(fill.slice(3).every(blue)).toBe(true);
    // contain: scale to 8x4 and centre it: rows 2..5 are the image, so row 4 holds it; rows 0 and 7 are black.
    expect(red((await row('contain'))[0]!)).toBe(true);
    const contain = await loadImageFolder(root, { imageSize: 8, fit: 'contain' });
    expect(pixelsOf(contain.images, 0, 64, 3).slice(0, 8).every(black)).toBe(true);
  });

  test('channels: 1 gives grey: the luminance of the colour, computed in linear light', async () => {
    const colours = [
      [0, 255, 0],
      [200, 100, 50],
      [30, 60, 240],
    ];
    for (const [i, c] of colours.entries()) await write(`c/${i}.png`, solid(5, 5, c));
    await write('c/9.png', solid(5, 5, [90]));
    const ds = await loadImageFolder(root, { imageSize: [3, 2], channels: 1 });
    expect(ds.imageShape).toEqual([3, 2, 1]);
    expect(ds.images.length).toBe(4 * 6);
    // Rec. 709 luminance of the linearized sRGB values, encoded back to sRGB.
    const toLinear = (v: number) => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    const toSrgb = (v: number) => (v <= 0.0031308 ? 12.92 * v : 1.055 * v ** (1 / 2.4) - 0.055);
    colours.forEach(([r, g, b], i) => {
      const y = 0.2126 * toLinear(r! / 255) + 0.7152 * toLinear(g! / 255) + 0.0722 * toLinear(b! / 255);
      const want = toSrgb(y) * 255;
      for (const v of ds.images.subarray(i * 6, (i + 1) * 6)) expect(Math.abs(v - want)).toBeLessThanOrEqual(2);
    });
    expect(Array.from(ds.images.subarray(18))).toEqual([90, 90, 90, 90, 90, 90]);
  });

  test('a corrupt file: ERR_DATA_CORRUPT naming it and its index', async () => {
    await write('a/1.png', solid(4, 4, [1, 2, 3]));
    await write('b/1.png', solid(4, 4, [1, 2, 3]));
    fs.writeFileSync(path.join(root, 'b', '2.jpg'), Buffer.from('definitely not a jpeg'));
    await write('b/3.png', solid(4, 4, [1, 2, 3]));
    const e = (await rejectionOf(loadImageFolder(root, { imageSize: 4, concurrency: 1 }))) as Vit22bError;
    expect(isVit22bError(e, 'ERR_DATA_CORRUPT')).toBe(true);
    const bad = path.join(root, 'b', '2.jpg');
    expect(e.details).toMatchObject({ file: bad, index: 2, reason: 'undecodable' });
    expect(e.message).toContain(bad);
  });

  test('a truncated PNG is corrupt too, and with many workers the first bad file is the one reported', async () => {
    const good = await sharp(Buffer.alloc(32 * 32 * 3, 99), { raw: { width: 32, height: 32, channels: 3 } }).png().toBuffer();
    for (let i = 0; i < 12; i++) await write(`k/${String(i).padStart(2, '0')}.png`, sharp(good));
    fs.writeFileSync(path.join(root, 'k', '05.png'), good.subarray(0, good.length - 30));
    fs.writeFileSync(path.join(root, 'k', '09.png'), good.subarray(0, 40));
    const e = (await rejectionOf(loadImageFolder(root, { imageSize: 8, concurrency: 6 }))) as Vit22bError;
    expect(isVit22bError(e, 'ERR_DATA_CORRUPT')).toBe(true);
    expect(e.details).toMatchObject({ file: path.join(root, 'k', '05.png'), index: 5 });
  });

  test('empty and missing folders are typed errors', async () => {
    const missing = path.join(root, 'nope');
    const e1 = (await rejectionOf(loadImageFolder(missing, { imageSize: 4 }))) as Vit22bError;
    expect(isVit22bError(e1, 'ERR_DATA_NOT_FOUND')).toBe(true);
    expect(e1.details).toMatchObject({ reason: 'missing', searched: [missing] });

    const e2 = (await rejectionOf(loadImageFolder(root, { imageSize: 4 }))) as Vit22bError;
    expect(isVit22bError(e2, 'ERR_DATA_NOT_FOUND')).toBe(true);
    expect(e2.details.reason).toBe('no-classes');

    await write('full/1.png', solid(4, 4, [1, 2, 3]));
    fs.mkdirSync(path.join(root, 'hollow', 'deeper'), { recursive: true });
    fs.writeFileSync(path.join(root, 'hollow', 'readme.md'), '');
    const e3 = (await rejectionOf(loadImageFolder(root, { imageSize: 4 }))) as Vit22bError;
    expect(isVit22bError(e3, 'ERR_DATA_NOT_FOUND')).toBe(true);
    expect(e3.details).toMatchObject({ reason: 'empty-class', file: path.join(root, 'hollow') });
  });

  test('bad options are typed errors', async () => {
    for (const [opts, field] of [
      [{ imageSize: 0 }, 'imageSize'],
      [{ imageSize: [4, 2.5] }, 'imageSize'],
      [{ imageSize: 4, channels: 2 }, 'channels'],
      [{ imageSize: 4, fit: 'stretch' }, 'fit'],
      [{ imageSize: 4, concurrency: 0 }, 'concurrency'],
    ] as const) {
      const e = (await rejectionOf(loadImageFolder(root, opts as never))) as Vit22bError;
      expect(isVit22bError(e, 'ERR_INVALID_ARGUMENT')).toBe(true);
      expect(e.details.field).toBe(field);
    }
  });
});

describe('the optional dependency', () => {
  test('a package that is not installed: ERR_DEPENDENCY_MISSING, not-installed, with the install command', () => {
    const e = thrownBy(() => loadOptionalDependency('vit22b-test-no-such-package', 'Testing')) as Vit22bError;
    expect(isVit22bError(e, 'ERR_DEPENDENCY_MISSING')).toBe(true);
    expect(e.details).toMatchObject({ dependency: 'vit22b-test-no-such-package', reason: 'not-installed' });
    expect(e.message).toContain('npm install vit22b-test-no-such-package');
  });

  test('installed but failing to load: load-failed, with the cause', () => {
    const e = thrownBy(() =>
      loadOptionalDependency('sharp', 'Testing', () => {
        throw new Error('Could not load the "sharp" module using the linux-x64 runtime');
      }),
    ) as Vit22bError;
    expect(isVit22bError(e, 'ERR_DEPENDENCY_MISSING')).toBe(true);
    expect(e.details.reason).toBe('load-failed');
    expect(e.details.cause).toContain('linux-x64 runtime');
  });

  test('a missing dependency of the package (not the package itself) is a load failure', () => {
    const e = thrownBy(() =>
      loadOptionalDependency('sharp', 'Testing', () => {
        throw Object.assign(new Error("Cannot find module '@img/sharp-linux-x64'"), { code: 'MODULE_NOT_FOUND' });
      }),
    ) as Vit22bError;
    expect(e.details.reason).toBe('load-failed');
  });

  test('loadImageFolder without sharp: ERR_DEPENDENCY_MISSING', async () => {
    await write('a/1.png', solid(4, 4, [1, 2, 3]));
    let load!: typeof loadImageFolder;
    jest.isolateModules(() => {
      jest.doMock('sharp', () => {
        throw Object.assign(new Error("Cannot find module 'sharp' from 'lib/data/optional-dependency.ts'"), { code: 'MODULE_NOT_FOUND' });
      });
      ({ loadImageFolder: load } = require('../../lib/data/image-folder') as typeof import('../../lib/data/image-folder'));
    });
    const e = (await rejectionOf(load(root, { imageSize: 4 }))) as Vit22bError;
    jest.dontMock('sharp');
    expect(e.code).toBe('ERR_DEPENDENCY_MISSING');
    expect(e.details).toMatchObject({ dependency: 'sharp', reason: 'not-installed' });
    expect(e.message).toContain('npm install sharp');
  });
});
