/**
 * Sharded checkpoints: every device writes only what it holds, and a checkpoint loads on any mesh.
 *
 * A directory of
 *   rank-<r>.safetensors   the chunks rank r saved, one safetensors tensor per chunk
 *   index.json             { format, mesh, tensors: { <name>: { shape, dtype, chunks } } }
 * where a chunk is a box of the GLOBAL tensor { offsets, sizes } (global start and extent per
 * dimension) and where it lives { file, key }. A device's slice of a segmented tensor is several
 * boxes (one per segment), each stored contiguous. A box several devices hold (a replicated weight,
 * the same slice on every data rank) is written once, by the lowest rank. Loading intersects the
 * boxes each device needs with the saved ones and reads only those byte ranges, so a checkpoint
 * saved on data=2,model=2 with ZeRO-3 loads on model=4, on one device, or the reverse; a box of the
 * target not covered by saved chunks is an error, never zeros.
 *
 * The commit is one rename: everything is written into a temporary directory beside the target,
 * fsynced, and renamed to it (the devices of this process have all written when it happens; across
 * processes that point is a barrier).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { BufferSlices, Program } from '../graph/program';
import { copyRegion, localShape, rankBoxes, type Box, type MeshShape } from '../graph/sharding';
import { allocHostArray, DTYPE_BYTES, type DType, type HostArray } from '../runtime/dtype';
import { Vit22bError } from '../runtime/errors';
import { fsyncDir, tempNameFor, writeFileAtomic } from './atomic-file';
import { readRegularFile } from './regular-file';
import { SafetensorsFile, writeSafetensors, type SafetensorsTensor } from './safetensors';
import { SAFETENSORS_OF_DTYPE } from './safetensors-dtype';

export const SHARDED_FORMAT = 'vit22b-sharded/1';
const INDEX_FILE = 'index.json';
/** An index lists one chunk per saved box: generous, but bounded. */
const MAX_INDEX_BYTES = 1 << 28;

export type { Box };

export interface Chunk extends Box {
  file: string;
  key: string;
}

export interface ShardedTensor {
  shape: number[];
  dtype: DType;
  chunks: Chunk[];
}

export interface ShardIndex {
  format: typeof SHARDED_FORMAT;
  /** The mesh it was saved on (informational: any mesh loads it). */
  mesh: MeshShape;
  tensors: Record<string, ShardedTensor>;
}

function checkpointError(dir: string, rule: string, message: string, extra: { expected?: string; received?: string; [k: string]: unknown } = {}): Vit22bError {
  return new Vit22bError('ERR_CHECKPOINT', `sharded checkpoint ${dir}: ${message}`, { rule, path: dir, ...extra });
}

const volume = (sizes: readonly number[]) => sizes.reduce((a, b) => a * b, 1);


/** The buffers a checkpoint holds by default: all but gradients (a step recomputes those). */
function defaultNames(program: Program): string[] {
  return program.bufferNames().filter((n) => !n.startsWith('grad/') && !n.startsWith('const/'));
}

/** Writes `program`'s buffers (default: parameters and optimizer state) as a sharded checkpoint at `dir`, which must not exist. */
export function saveShardedCheckpoint(dir: string, program: Program, names: readonly string[] = defaultNames(program)): ShardIndex {
  if (program.session.multiProcess) {
    // slices() holds only this process's ranks; a save from one process would miss the others'.
    throw new Vit22bError('ERR_NOT_IMPLEMENTED', 'sharded checkpoints of a program over MPI processes are not supported yet (each process holds only its own slices)', {
      expected: 'a program on one process',
      received: 'a mesh over MPI processes',
    });
  }
  if (fs.existsSync(dir)) throw checkpointError(dir, 'exists', 'the target exists (a checkpoint is written once)', { expected: 'a new path', received: 'exists' });
  const slices = names.map((n) => [n, program.slices(n)] as const);
  const mesh = program.mesh;
  const index: ShardIndex = { format: SHARDED_FORMAT, mesh, tensors: {} };
  for (const [n, s] of slices) index.tensors[n] = { shape: [...s.shape], dtype: s.dtype, chunks: [] };
  const tmp = tempNameFor(path.resolve(dir));
  fs.mkdirSync(tmp);
  try {
    const written = new Set<string>();
    const ranks = slices[0]?.[1].ranks.length ?? 1;
    for (let r = 0; r < ranks; ++r) {
      const file = `rank-${r}.safetensors`;
      const tensors: Record<string, SafetensorsTensor> = {};
      for (const [n, s] of slices) {
        const rank = s.ranks[r]!;
        const boxes = rankBoxes(s.shape, s.dims, s.mesh, rank.coords).filter(({ box }) => !written.has(`${n}@${box.offsets.join(',')}`));
        if (boxes.length === 0) continue;
        const local = rank.read();
        const shapeHere = localShape(n, s.shape, s.dims, s.mesh);
        for (const { box, localStart } of boxes) {
          const key = `${n}@${box.offsets.join(',')}`;
          written.add(key);
          const data = allocHostArray(s.dtype, volume(box.sizes));
          copyRegion(local, shapeHere, localStart, data, box.sizes, box.sizes.map(() => 0), box.sizes);
          tensors[key] = { dtype: SAFETENSORS_OF_DTYPE[s.dtype], shape: box.sizes, data };
          index.tensors[n]!.chunks.push({ ...box, file, key });
        }
      }
      if (Object.keys(tensors).length > 0) writeSafetensors(path.join(tmp, file), tensors);
    }
    writeFileAtomic(path.join(tmp, INDEX_FILE), (fd) => fs.writeSync(fd, JSON.stringify(index, null, 1) + '\n'));
    fsyncDir(tmp);
    fs.renameSync(tmp, dir);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  fsyncDir(path.dirname(path.resolve(dir)));
  return index;
}

const isCount = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** index.json read and checked: its shape, every chunk inside its tensor, files named inside the directory. */
export function readShardIndex(dir: string): ShardIndex {
  const file = path.join(dir, INDEX_FILE);
  // A regular file of bounded size (a FIFO or /dev/zero named index.json must not hang the load).
  const text = readRegularFile(file, MAX_INDEX_BYTES, (reason, message, extra) =>
    checkpointError(dir, reason === 'file-unreadable' ? 'index-unreadable' : reason, `${INDEX_FILE}: ${message}`, { expected: 'a sharded checkpoint directory', received: file, ...extra }),
  ).toString('utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw checkpointError(dir, 'index-invalid', `${INDEX_FILE} is not JSON`, { expected: 'JSON', received: text.slice(0, 40) });
  }
  const idx = raw as ShardIndex;
  if (idx?.format !== SHARDED_FORMAT || typeof idx.tensors !== 'object' || idx.tensors === null) {
    throw checkpointError(dir, 'index-invalid', `${INDEX_FILE} is not a ${SHARDED_FORMAT} index`, { expected: SHARDED_FORMAT, received: String((raw as { format?: unknown })?.format) });
  }
  for (const [name, t] of Object.entries(idx.tensors)) {
    const bad = (why: string) => checkpointError(dir, 'index-invalid', `tensor '${name}': ${why}`, { tensor: name });
    if (!Array.isArray(t.shape) || !t.shape.every(isCount) || !(t.dtype in DTYPE_BYTES) || !Array.isArray(t.chunks)) throw bad('needs shape, dtype and chunks');
    for (const c of t.chunks) {
      const ok =
        Array.isArray(c.offsets) &&
        Array.isArray(c.sizes) &&
        c.offsets.length === t.shape.length &&
        c.sizes.length === t.shape.length &&
        c.offsets.every((o, d) => isCount(o) && isCount(c.sizes[d]) && o + c.sizes[d]! <= t.shape[d]!) &&
        typeof c.file === 'string' &&
        /^rank-\d+\.safetensors$/.test(c.file) &&
        typeof c.key === 'string';
      if (!ok) throw bad(`chunk ${JSON.stringify(c).slice(0, 120)} is not a box inside [${t.shape.join(', ')}] in a rank file`);
    }
  }
  return idx;
}

/** The intersection of two boxes, or undefined. */
function intersect(a: Box, b: Box): Box | undefined {
  const offsets: number[] = [];
  const sizes: number[] = [];
  for (let d = 0; d < a.offsets.length; ++d) {
    const lo = Math.max(a.offsets[d]!, b.offsets[d]!);
    const hi = Math.min(a.offsets[d]! + a.sizes[d]!, b.offsets[d]! + b.sizes[d]!);
    if (hi <= lo) return undefined;
    offsets.push(lo);
    sizes.push(hi - lo);
  }
  return { offsets, sizes };
}

/** Open rank files: their validated headers and a descriptor for positioned reads of byte ranges. */
class RankFiles implements Disposable {
  private readonly open = new Map<string, { header: SafetensorsFile; fd: number }>();
  constructor(private readonly dir: string) {}

  /** The file's checked header and a descriptor for its byte ranges, opened once per load. */
  get(file: string): { header: SafetensorsFile; fd: number } {
    let f = this.open.get(file);
    if (!f) {
      const header = SafetensorsFile.open(path.join(this.dir, file));
      try {
        f = { header, fd: fs.openSync(path.join(this.dir, file), 'r') };
      } catch (e) {
        header.close();
        throw e;
      }
      this.open.set(file, f);
    }
    return f;
  }

  [Symbol.dispose](): void {
    for (const f of this.open.values()) {
      f.header.close();
      fs.closeSync(f.fd);
    }
  }
}

/** Reads the part `part` (a box inside `chunk`) of a saved chunk into dst at dstStart. */
function readPart(files: RankFiles, dir: string, chunk: Chunk, dtype: DType, part: Box, dst: HostArray, dstShape: number[], dstStart: number[]): void {
  const { header, fd } = files.get(chunk.file);
  const entry = header.entry(chunk.key);
  const el = DTYPE_BYTES[dtype];
  if (entry.dtype !== SAFETENSORS_OF_DTYPE[dtype] || entry.byteLength !== volume(chunk.sizes) * el) {
    throw checkpointError(dir, 'chunk-mismatch', `chunk ${chunk.key} in ${chunk.file} is not ${dtype}[${chunk.sizes.join(', ')}]`, {
      expected: `${SAFETENSORS_OF_DTYPE[dtype]} of ${volume(chunk.sizes) * el} bytes`,
      received: `${entry.dtype} of ${entry.byteLength} bytes`,
    });
  }
  // Only the rows of `part`: one positioned read per run of the last dimension.
  const within = part.offsets.map((o, d) => o - chunk.offsets[d]!);
  const rows = volume(part.sizes.slice(0, -1));
  const run = part.sizes.length ? part.sizes[part.sizes.length - 1]! : 1;
  const tmp = allocHostArray(dtype, volume(part.sizes));
  const bytes = new Uint8Array(tmp.buffer, tmp.byteOffset, tmp.byteLength);
  const strides = chunk.sizes.map((_s, d) => volume(chunk.sizes.slice(d + 1)));
  for (let row = 0; row < rows; ++row) {
    let rest = row;
    let linear = 0;
    for (let d = part.sizes.length - 2; d >= 0; --d) {
      const i = rest % part.sizes[d]!;
      rest = Math.floor(rest / part.sizes[d]!);
      linear += (within[d]! + i) * strides[d]!;
    }
    if (part.sizes.length) linear += within[part.sizes.length - 1]!;
    const want = run * el;
    const at = row * want;
    let done = 0;
    while (done < want) {
      const got = fs.readSync(fd, bytes, at + done, want - done, entry.offset + linear * el + done);
      if (got === 0) throw checkpointError(dir, 'data-truncated', `${chunk.file} ended inside chunk ${chunk.key}`, { file: chunk.file });
      done += got;
    }
  }
  copyRegion(tmp, part.sizes, part.sizes.map(() => 0), dst, dstShape, dstStart, part.sizes);
}

/**
 * Loads a sharded checkpoint into `program`, whatever mesh either was on: every buffer it names
 * must exist in the program with the same global shape and dtype, and every device's slice must be
 * covered by saved chunks.
 */
export function loadShardedCheckpoint(dir: string, program: Program): ShardIndex {
  const index = readShardIndex(dir);
  const names = defaultNames(program);
  const missing = names.filter((n) => !index.tensors[n]);
  if (missing.length) {
    throw checkpointError(dir, 'tensor-missing', `holds no ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}`, { expected: names.slice(0, 5).join(', '), received: Object.keys(index.tensors).slice(0, 5).join(', ') });
  }
  using files = new RankFiles(dir);
  for (const name of names) {
    const t = index.tensors[name]!;
    const s: BufferSlices = program.slices(name);
    if (t.dtype !== s.dtype || t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i])) {
      throw checkpointError(dir, 'tensor-mismatch', `'${name}' is ${t.dtype}[${t.shape.join(', ')}] in the checkpoint`, { tensor: name, expected: `${s.dtype}[${s.shape.join(', ')}]`, received: `${t.dtype}[${t.shape.join(', ')}]` });
    }
    for (const rank of s.ranks) {
      const boxes = rankBoxes(s.shape, s.dims, s.mesh, rank.coords);
      const shapeHere = localShape(name, s.shape, s.dims, s.mesh);
      const local = allocHostArray(s.dtype, volume(shapeHere));
      for (const { box, localStart } of boxes) {
        let covered = 0;
        for (const chunk of t.chunks) {
          const part = intersect(box, chunk);
          if (!part) continue;
          covered += volume(part.sizes);
          readPart(files, dir, chunk, t.dtype, part, local, shapeHere, localStart.map((l, d) => l + part.offsets[d]! - box.offsets[d]!));
        }
        if (covered !== volume(box.sizes)) {
          throw checkpointError(dir, 'incomplete', `the saved chunks of '${name}' do not cover [${box.offsets.join(', ')}] + [${box.sizes.join(', ')}] exactly`, {
            tensor: name,
            expected: `${volume(box.sizes)} elements`,
            received: `${covered} elements`,
          });
        }
      }
      rank.write(local);
    }
  }
  return index;
}
