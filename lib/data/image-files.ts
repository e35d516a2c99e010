/**
 * Images for inference (`vit22b predict --images`): one file, or every JPEG / PNG / WebP under a
 * folder (recursively, in code-point order of the paths), decoded with sharp (the optional peer),
 * turned upright by EXIF, composited over black, resized so the shorter side is size / cropPct and
 * centre-cropped to size x size (timm's eval transform; cropPct 1, the default, is the training
 * loader's `cover` fit), then normalized ((x / 255 - mean) / std per channel) into f32 NHWC.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Vit22bError } from '../runtime/errors';
import { normalizationTable } from './augment';
import { loadOptionalDependency } from './optional-dependency';

export interface ImageFilesOptions {
  imageSize: number;
  channels: 1 | 3;
  /** Fraction of the resized image kept by the centre crop (timm's crop_pct, e.g. 0.875). Default 1. */
  cropPct?: number;
  mean: readonly number[];
  std: readonly number[];
}

const EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp']);

interface SharpPipeline {
  rotate(): SharpPipeline;
  resize(width: number, height: number, options: { fit: string; position: string }): SharpPipeline;
  extract(region: { left: number; top: number; width: number; height: number }): SharpPipeline;
  flatten(): SharpPipeline;
  toColourspace(space: string): SharpPipeline;
  raw(): SharpPipeline;
  toBuffer(options: { resolveWithObject: true }): Promise<{ data: Buffer; info: { width: number; height: number; channels: number } }>;
}
type Sharp = (input: string, options: { failOn: string }) => SharpPipeline;

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function walk(dir: string, out: string[]): void {
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => byCodePoint(a.name, b.name))) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) walk(full, out);
    else if (EXTENSIONS.has(path.extname(e.name).toLowerCase())) out.push(full);
  }
}

/** The image files `target` names: itself (any extension: sharp decides), or those under a folder. */
export function listImageFiles(target: string): string[] {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(target);
  } catch {
    throw new Vit22bError('ERR_DATA_NOT_FOUND', `${target}: no such image file or folder`, { file: target, searched: [target], expected: 'an image file or a folder of images', received: 'missing' });
  }
  if (!stat.isDirectory()) return [target];
  const files: string[] = [];
  walk(target, files);
  if (files.length === 0) {
    throw new Vit22bError('ERR_DATA_NOT_FOUND', `${target}: no JPEG, PNG or WebP images in this folder`, { file: target, searched: [target], expected: 'at least one .png, .jpg, .jpeg or .webp file', received: 'none' });
  }
  return files;
}

function checkOptions(o: ImageFilesOptions): number {
  const bad = (field: string, expected: string, received: unknown): never => {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `image files: ${field} must be ${expected}`, { field, expected, received: String(received) });
  };
  if (!Number.isSafeInteger(o.imageSize) || o.imageSize < 1 || o.imageSize > 16384) bad('imageSize', 'an integer in [1, 16384]', o.imageSize);
  if (o.channels !== 1 && o.channels !== 3) bad('channels', '1 or 3', o.channels);
  const crop = o.cropPct ?? 1;
  if (!(crop > 0 && crop <= 1)) bad('cropPct', 'in (0, 1]', crop);
  if (o.mean.length !== o.channels || o.std.length !== o.channels) bad('mean/std', `${o.channels} values each`, `${o.mean.length} and ${o.std.length}`);
  if (o.std.some((s) => !(s > 0 && Number.isFinite(s))) || o.mean.some((m) => !Number.isFinite(m))) bad('mean/std', 'finite, std > 0', JSON.stringify([o.mean, o.std]));
  return crop;
}

/** Decodes `files` into f32 [files.length, size, size, channels]; a file that does not decode is ERR_DATA_CORRUPT naming it. */
export async function readImageFiles(files: readonly string[], o: ImageFilesOptions): Promise<Float32Array> {
  const crop = checkOptions(o);
  const sharp = loadOptionalDependency<Sharp>('sharp', 'Reading image files');
  const s = o.imageSize;
  const c = o.channels;
  const resized = Math.max(s, Math.round(s / crop));
  const offset = Math.floor((resized - s) / 2);
  const out = new Float32Array(files.length * s * s * c);
  // The training loader's table, so an image reads exactly as it did in training.
  const lut = normalizationTable(o.mean, o.std);
  // Sequential: inference batches are small and the order of errors then is the order of files.
  for (const [index, file] of files.entries()) {
    let data: Buffer;
    let info: { width: number; height: number; channels: number };
    try {
      let p = sharp(file, { failOn: 'warning' }).rotate().resize(resized, resized, { fit: 'cover', position: 'centre' });
      if (resized !== s) p = p.extract({ left: offset, top: offset, width: s, height: s });
      ({ data, info } = await p.flatten().toColourspace(c === 3 ? 'srgb' : 'b-w').raw().toBuffer({ resolveWithObject: true }));
    } catch (e) {
      throw new Vit22bError('ERR_DATA_CORRUPT', `${file}: cannot decode the image: ${(e as Error).message}`, {
        file,
        index,
        reason: 'undecodable',
        expected: 'a JPEG, PNG or WebP image',
        received: (e as Error).message,
      });
    }
    if (info.width !== s || info.height !== s || info.channels !== c) {
      throw new Vit22bError('ERR_INTERNAL', `${file}: sharp returned ${info.width}x${info.height}x${info.channels}`, { file, expected: `${s}x${s}x${c}`, received: `${info.width}x${info.height}x${info.channels}` });
    }
    const base = index * s * s * c;
    for (let i = 0; i < s * s * c; ++i) out[base + i] = lut[(i % c) * 256 + data[i]!]!;
  }
  return out;
}
