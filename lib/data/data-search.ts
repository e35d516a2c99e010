/**
 * Finding a data set's files in an ordered list of folders. The first folder holding every file
 * wins; when none does, the error lists every folder looked in, because "not found" alone leaves a
 * user guessing where to put the files.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Vit22bError } from '../runtime/errors';

/** One wanted file: its base name and the accepted spellings (e.g. with and without `.gz`), in preference order. */
export interface WantedFile {
  readonly name: string;
  readonly variants: readonly string[];
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** The folders in order, resolved against the cwd, duplicates dropped (first occurrence kept). */
export function uniqueFolders(folders: readonly string[]): string[] {
  const out: string[] = [];
  for (const f of folders) {
    const abs = path.resolve(f);
    if (!out.includes(abs)) out.push(abs);
  }
  return out;
}

/**
 * Returns the folder and the path of each wanted file (in the order asked) from the first folder
 * that has them all. Throws ERR_DATA_NOT_FOUND with `details.searched` (the folders, in order) and
 * `details.files` (the names looked for).
 */
export function findDataFiles(
  dataset: string,
  folders: readonly string[],
  wanted: readonly WantedFile[],
): { folder: string; files: string[] } {
  const searched = uniqueFolders(folders);
  for (const folder of searched) {
    const files: string[] = [];
    for (const w of wanted) {
      const hit = w.variants.map((v) => path.join(folder, v)).find(isFile);
      if (hit === undefined) break;
      files.push(hit);
    }
    if (files.length === wanted.length) return { folder, files };
  }
  const names = wanted.map((w) => w.variants.join(' or '));
  throw new Vit22bError(
    'ERR_DATA_NOT_FOUND',
    `${dataset}: no folder holds ${names.join(', ')}; searched, in order:\n${searched.map((s) => `  ${s}`).join('\n')}`,
    {
      dataset,
      searched,
      files: wanted.map((w) => w.name),
      expected: `a folder with ${names.join(', ')}`,
      received: `none of ${searched.length} folders`,
    },
  );
}
