/**
 * A data set from a folder of images, one sub-folder per class (the layout of torchvision's
 * ImageFolder and of most exported data sets):
 *
 *     root/cat/0001.jpg, root/cat/more/0002.png, root/dog/0001.jpg, ...
 *
 * Class ids are the sub-folders' names sorted by code point (not by locale, so ids do not change
 * with the machine's language settings); within a class, files are taken in the same order,
 * recursively. JPEG and PNG files are decoded with sharp (an optional peer dependency, loaded only
 * here), turned upright by their EXIF orientation, composited over black where transparent,
 * converted to RGB (or grey) and resized to one size. Other files are skipped and counted.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { fileKind } from '../io/regular-file';
import { requireObject, requireString } from '../runtime/arg-checks';
import { Vit22bError } from '../runtime/errors';
import { channelStats, type Dataset } from './dataset';
import { loadOptionalDependency } from './optional-dependency';

export interface ImageFolderOptions {
  /** Output size: a side for square images, or [height, width]. */
  imageSize: number | readonly [number, number];
  /** 3 (RGB, the default) or 1 (grey). */
  channels?: 1 | 3;
  /**
   * How an image of another aspect ratio is brought to size: `cover` (default) scales the shorter
   * side to fit and crops the centre; `fill` stretches; `contain` scales the longer side and pads
   * with black.
   */
  fit?: 'cover' | 'fill' | 'contain';
  /** Images decoded at once (sharp decodes on libuv's thread pool). */
  concurrency?: number;
  /** The data set's name; the folder's base name by default. */
  name?: string;
  /**
   * The longest one image may take to decode, in ms (default 120,000): past it the file is reported
   * as ERR_DATA_CORRUPT `decode-timeout` instead of the load waiting forever.
   */
  decodeTimeoutMs?: number;
}

/** The Dataset, plus how many files were skipped because they are not JPEG or PNG. */
export type ImageFolderDataset = Dataset & { readonly skippedFiles: number };

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);

/** The subset of sharp's API used here, declared locally so sharp's types are never needed to compile vit22b. */
interface SharpPipeline {
  rotate(): SharpPipeline;
  resize(width: number, height: number, options: { fit: string; position: string }): SharpPipeline;
  flatten(): SharpPipeline;
  toColourspace(space: string): SharpPipeline;
  raw(): SharpPipeline;
  toBuffer(options: { resolveWithObject: true }): Promise<{ data: Buffer; info: { width: number; height: number; channels: number } }>;
}
type Sharp = (input: string, options: { failOn: string }) => SharpPipeline;

function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function notFound(message: string, details: Record<string, unknown>): Vit22bError {
  return new Vit22bError('ERR_DATA_NOT_FOUND', message, details);
}

/** Image files under `dir`, recursively, in code-point order of their paths; counts the rest. */
function listImages(dir: string, skipped: { count: number }): string[] {
  const out: string[] = [];
  const entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => byCodePoint(a.name, b.name));
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) {
      out.push(...listImages(full, skipped));
    } else if (IMAGE_EXTENSIONS.has(path.extname(e.name).toLowerCase())) {
      // A FIFO named x.png would make the decoder wait for a writer forever; a device never ends.
      // stat (not open) is safe on both; a symlink counts by what it points to.
      const kind = e.isFile() ? undefined : statKind(full);
      if (kind !== undefined) {
        throw new Vit22bError('ERR_DATA_CORRUPT', `${full} is ${kind}, not a regular image file`, { file: full, reason: 'not-a-regular-file', expected: 'a regular file', received: kind });
      }
      out.push(full);
    } else {
      skipped.count++;
    }
  }
  return out;
}

/** `work`, or `timeout()` thrown once `ms` have passed without it settling (the timer never holds the process). */
export function withDeadline<T>(work: Promise<T>, ms: number, timeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(timeout()), ms);
    timer.unref();
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** undefined for a regular file (through symlinks), else what the path is, in words. */
function statKind(file: string): string | undefined {
  try {
    const st = fs.statSync(file);
    return st.isFile() ? undefined : fileKind(st);
  } catch (e) {
    return `unreadable (${(e as NodeJS.ErrnoException).code ?? String(e)})`;
  }
}

/** The class names of an image folder (its sub-folders, hidden ones excepted), in code-point order. */
export function imageFolderClasses(root: string): string[] {
  return fs
    .readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort(byCodePoint);
}

function checkOptions(options: ImageFolderOptions): { height: number; width: number; channels: 1 | 3; fit: string; concurrency: number; decodeTimeoutMs: number } {
  const bad = (field: string, expected: string, received: unknown): never => {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `loadImageFolder: ${field} must be ${expected}`, {
      field,
      expected,
      received: String(received),
    });
  };
  const size = options.imageSize;
  const [height, width] = typeof size === 'number' ? [size, size] : [size[0], size[1]];
  for (const v of [height, width]) if (!Number.isSafeInteger(v) || v < 1 || v > 16384) bad('imageSize', 'integers in [1, 16384]', size);
  const channels = options.channels ?? 3;
  if (channels !== 1 && channels !== 3) bad('channels', '1 or 3', channels);
  const fit = options.fit ?? 'cover';
  if (fit !== 'cover' && fit !== 'fill' && fit !== 'contain') bad('fit', "'cover', 'fill' or 'contain'", fit);
  const concurrency = options.concurrency ?? 8;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) bad('concurrency', 'a positive integer', concurrency);
  const decodeTimeoutMs = options.decodeTimeoutMs ?? 120_000;
  if (!Number.isSafeInteger(decodeTimeoutMs) || decodeTimeoutMs < 1) bad('decodeTimeoutMs', 'a positive integer (ms)', decodeTimeoutMs);
  return { height: height!, width: width!, channels, fit, concurrency, decodeTimeoutMs };
}

/**
 * Loads every image under `dir` into memory. Errors: ERR_DATA_NOT_FOUND for a missing folder, a
 * folder with no class sub-folders (`reason: 'no-classes'`) or a class with no images
 * (`reason: 'empty-class'`); ERR_DATA_CORRUPT naming the file (and its example index) for a file that
 * does not decode; ERR_DEPENDENCY_MISSING when sharp is not installed.
 */
export async function loadImageFolder(dir: string, options: ImageFolderOptions): Promise<ImageFolderDataset> {
  requireString(dir, 'loadImageFolder dir');
  requireObject(options, 'loadImageFolder options', '{ imageSize, ... }');
  const { height, width, channels, fit, concurrency, decodeTimeoutMs } = checkOptions(options);
  const root = path.resolve(dir);
  let isDir = false;
  try {
    isDir = fs.statSync(root).isDirectory();
  } catch {
    // reported below, with the same error as a file in its place
  }
  if (!isDir) throw notFound(`image folder ${root} does not exist or is not a folder`, { file: root, searched: [root], reason: 'missing' });

  const classNames = imageFolderClasses(root);
  if (classNames.length === 0) {
    throw notFound(`image folder ${root} has no class sub-folders (expected ${root}/<class>/<image>)`, {
      file: root,
      searched: [root],
      reason: 'no-classes',
      expected: 'one sub-folder per class',
      received: 'none',
    });
  }
  const skipped = { count: 0 };
  const files: string[] = [];
  const fileLabels: number[] = [];
  for (const [label, name] of classNames.entries()) {
    const classDir = path.join(root, name);
    const images = listImages(classDir, skipped);
    if (images.length === 0) {
      throw notFound(`class folder ${classDir} has no JPEG or PNG images`, {
        file: classDir,
        searched: [classDir],
        reason: 'empty-class',
        expected: 'at least one .png, .jpg or .jpeg file',
        received: 'none',
      });
    }
    for (const f of images) {
      files.push(f);
      fileLabels.push(label);
    }
  }

  const sharp = loadOptionalDependency<Sharp>('sharp', 'Loading an image folder');
  const pixels = height * width * channels;
  const images = new Uint8Array(files.length * pixels);
  const decode = async (index: number): Promise<void> => {
    const file = files[index]!;
    let data: Buffer;
    let info: { width: number; height: number; channels: number };
    try {
      // failOn 'warning': a truncated file is an error, not a half-grey image.
      ({ data, info } = await withDeadline(
        sharp(file, { failOn: 'warning' })
          .rotate()
          .resize(width, height, { fit, position: 'centre' })
          .flatten()
          .toColourspace(channels === 3 ? 'srgb' : 'b-w')
          .raw()
          .toBuffer({ resolveWithObject: true }),
        decodeTimeoutMs,
        () =>
          new Vit22bError('ERR_DATA_CORRUPT', `${file}: decoding took longer than ${decodeTimeoutMs} ms`, {
            file,
            index,
            reason: 'decode-timeout',
            expected: `a decode within ${decodeTimeoutMs} ms`,
            received: 'no result',
          }),
      ));
    } catch (e) {
      if (e instanceof Vit22bError) throw e;
      throw new Vit22bError('ERR_DATA_CORRUPT', `${file}: cannot decode the image: ${(e as Error).message}`, {
        file,
        index,
        reason: 'undecodable',
        cause: (e as Error).message,
      });
    }
    if (info.width !== width || info.height !== height || info.channels !== channels || data.length !== pixels) {
      throw new Vit22bError('ERR_INTERNAL', `${file}: sharp returned ${info.width}x${info.height}x${info.channels}`, {
        file,
        index,
        expected: `${width}x${height}x${channels}`,
        received: `${info.width}x${info.height}x${info.channels}`,
      });
    }
    images.set(data, index * pixels);
  };
  // A fixed number of workers pulling the next index: bounded memory and open files, any order of
  // completion, and the first failure stops the others from starting new files.
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < files.length) {
      const i = next++;
      try {
        await decode(i);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  const workers = Array.from({ length: Math.min(concurrency, files.length) }, worker);
  const results = await Promise.allSettled(workers);
  // Report the earliest failing file. Indices are handed out in order and every started decode is
  // awaited, so every file before the first failure seen was tried: this is the first corrupt file
  // of the whole folder, whatever the timing.
  const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (errors.length > 0) {
    errors.sort((a, b) => Number((a as Vit22bError).details?.index ?? 0) - Number((b as Vit22bError).details?.index ?? 0));
    throw errors[0];
  }

  const { mean, std } = channelStats(images, channels);
  return {
    name: options.name ?? path.basename(root),
    imageShape: [height, width, channels],
    numClasses: classNames.length,
    classNames,
    size: files.length,
    images,
    labels: Int32Array.from(fileLabels),
    mean,
    std,
    source: root,
    skippedFiles: skipped.count,
  };
}
