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
import { coordinatesOf, copyRegion, localShape, rankBoxes, type Box, type MeshShape } from '../graph/sharding';
import { allocHostArray, DTYPE_BYTES, type DType, type HostArray } from '../runtime/dtype';
import { Vit22bError } from '../runtime/errors';
import { fsyncDir, tempNameFor, writeFileAtomic } from './atomic-file';
import { readRegularFile } from './regular-file';
import { SafetensorsFile, writeSafetensors, type SafetensorsEntry, type SafetensorsTensor } from './safetensors';
import { SAFETENSORS_OF_DTYPE } from './safetensors-dtype';

export const SHARDED_FORMAT = 'vit22b-sharded/1';
export const INDEX_FILE = 'index.json';
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
  /** What the buffer is (a parameter, optimizer state); absent in indexes written before it was recorded. */
  kind?: string;
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

/** The file rank r writes its chunks to. */
export function rankFileName(rank: number): string {
  return `rank-${rank}.safetensors`;
}

/** What one rank writes: boxes of its local slices, each box of a tensor written by one rank only. */
interface RankWrite {
  name: string;
  box: Box;
  localStart: number[];
}

/**
 * Which rank writes which box: every rank's boxes in rank order, a box already taken by a lower rank
 * skipped (a replicated weight, the same slice on every data rank). A pure function of the layouts
 * and the mesh, so every process of a multi-process run computes the same assignment and the same
 * index without exchanging a byte.
 */
function assignBoxes(program: Program, names: readonly string[]): RankWrite[][] {
  const mesh = program.mesh;
  const ranks = mesh.data * mesh.model;
  const taken = new Set<string>();
  const out: RankWrite[][] = [];
  const slices = names.map((n) => [n, program.slices(n)] as const);
  for (let r = 0; r < ranks; ++r) {
    const mine: RankWrite[] = [];
    for (const [name, s] of slices) {
      for (const { box, localStart } of rankBoxes(s.shape, s.dims, s.mesh, coordinatesOf(mesh, r))) {
        const key = chunkKey(name, box);
        if (taken.has(key)) continue;
        taken.add(key);
        mine.push({ name, box, localStart });
      }
    }
    out.push(mine);
  }
  return out;
}

const chunkKey = (name: string, box: Box) => `${name}@${box.offsets.join(',')}`;

/**
 * The index of a sharded save of `names`: global shapes and dtypes, every chunk and its file. The
 * same on every process (see assignBoxes); each tensor's `kind` says whether it is a parameter, so a
 * parameters-only load (evaluation) knows what to read.
 */
export function shardIndexOf(program: Program, names: readonly string[] = defaultNames(program)): ShardIndex {
  const index: ShardIndex = { format: SHARDED_FORMAT, mesh: program.mesh, tensors: {} };
  for (const n of names) {
    const s = program.slices(n);
    index.tensors[n] = { shape: [...s.shape], dtype: s.dtype, kind: program.bufferKind(n), chunks: [] };
  }
  assignBoxes(program, names).forEach((writes, r) => {
    for (const w of writes) index.tensors[w.name]!.chunks.push({ ...w.box, file: rankFileName(r), key: chunkKey(w.name, w.box) });
  });
  return index;
}

/**
 * Writes the rank files of the ranks this process holds into `dir` (an existing temporary directory)
 * and returns their names. A rank with nothing of its own to write (every box taken by a lower rank)
 * writes no file. Files are fsynced by writeSafetensors.
 */
export function writeRankFiles(dir: string, program: Program, names: readonly string[] = defaultNames(program)): string[] {
  const assignment = assignBoxes(program, names);
  const slices = new Map(names.map((n) => [n, program.slices(n)] as const));
  const written: string[] = [];
  for (const [r, writes] of assignment.entries()) {
    if (writes.length === 0) continue;
    const tensors: Record<string, SafetensorsTensor> = {};
    // One download per buffer of this rank, however many segments it has.
    const locals = new Map<string, HostArray>();
    for (const w of writes) {
      const s = slices.get(w.name)!;
      const rank = s.ranks.find((x) => x.coords.rank === r);
      if (!rank) continue; // held by another process of a multi-process run: it writes this file
      let local = locals.get(w.name);
      if (!local) locals.set(w.name, (local = rank.read()));
      const data = allocHostArray(s.dtype, volume(w.box.sizes));
      copyRegion(local, localShape(w.name, s.shape, s.dims, s.mesh), w.localStart, data, w.box.sizes, w.box.sizes.map(() => 0), w.box.sizes);
      tensors[chunkKey(w.name, w.box)] = { dtype: SAFETENSORS_OF_DTYPE[s.dtype], shape: w.box.sizes, data };
    }
    if (Object.keys(tensors).length === 0) continue;
    writeSafetensors(path.join(dir, rankFileName(r)), tensors);
    written.push(rankFileName(r));
  }
  return written;
}

/** Writes index.json into `dir` (atomically, fsynced). */
export function writeShardIndex(dir: string, index: ShardIndex): void {
  writeFileAtomic(path.join(dir, INDEX_FILE), (fd) => fs.writeSync(fd, JSON.stringify(index, null, 1) + '\n'));
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
  const index = shardIndexOf(program, names);
  const tmp = tempNameFor(path.resolve(dir));
  fs.mkdirSync(tmp);
  try {
    writeRankFiles(tmp, program, names);
    writeShardIndex(tmp, index);
    fsyncDir(tmp);
    fs.renameSync(tmp, dir);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  fsyncDir(path.dirname(path.resolve(dir)));
  return index;
}

/** The files an index names (each rank file once), for a manifest to hash. */
export function indexFiles(index: ShardIndex): string[] {
  return [...new Set(Object.values(index.tensors).flatMap((t) => t.chunks.map((c) => c.file)))].sort();
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

/** The chunk's safetensors entry, checked to be `dtype` of the chunk's size. */
function checkChunkEntry(files: RankFiles, dir: string, chunk: Chunk, dtype: DType): SafetensorsEntry {
  const entry = files.get(chunk.file).header.entry(chunk.key);
  const el = DTYPE_BYTES[dtype];
  if (entry.dtype !== SAFETENSORS_OF_DTYPE[dtype] || entry.byteLength !== volume(chunk.sizes) * el) {
    throw checkpointError(dir, 'chunk-mismatch', `chunk ${chunk.key} in ${chunk.file} is not ${dtype}[${chunk.sizes.join(', ')}]`, {
      expected: `${SAFETENSORS_OF_DTYPE[dtype]} of ${volume(chunk.sizes) * el} bytes`,
      received: `${entry.dtype} of ${entry.byteLength} bytes`,
    });
  }
  return entry;
}

/** Reads the part `part` (a box inside `chunk`) of a saved chunk into dst at dstStart. */
function readPart(files: RankFiles, dir: string, chunk: Chunk, dtype: DType, part: Box, dst: HostArray, dstShape: number[], dstStart: number[]): void {
  const { fd } = files.get(chunk.file);
  const entry = checkChunkEntry(files, dir, chunk, dtype);
  const el = DTYPE_BYTES[dtype];
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

/** The boxes of `name` one rank holds that the saved chunks do not cover exactly: an error, never zeros. */
function checkCovered(dir: string, name: string, t: ShardedTensor, boxes: { box: Box }[]): void {
  for (const { box } of boxes) {
    let covered = 0;
    for (const chunk of t.chunks) {
      const part = intersect(box, chunk);
      if (part) covered += volume(part.sizes);
    }
    if (covered !== volume(box.sizes)) {
      throw checkpointError(dir, 'incomplete', `the saved chunks of '${name}' do not cover [${box.offsets.join(', ')}] + [${box.sizes.join(', ')}] exactly`, {
        tensor: name,
        expected: `${volume(box.sizes)} elements`,
        received: `${covered} elements`,
      });
    }
  }
}

/** Reads the region `box` of a saved tensor into dst (laid out as dstShape) at dstStart. */
function readBox(files: RankFiles, dir: string, t: ShardedTensor, box: Box, dst: HostArray, dstShape: number[], dstStart: number[]): void {
  for (const chunk of t.chunks) {
    const part = intersect(box, chunk);
    if (part) readPart(files, dir, chunk, t.dtype, part, dst, dstShape, dstStart.map((l, d) => l + part.offsets[d]! - box.offsets[d]!));
  }
}

export interface LoadShardedOptions {
  /** The buffers to load (default: all but gradients and constants). */
  names?: readonly string[];
  /** The index, when the caller has read (and verified) it already. */
  index?: ShardIndex;
}

/**
 * Loads a sharded checkpoint into `program`, whatever mesh either was on: every buffer it names
 * must exist in the program with the same global shape and dtype, and every device's slice must be
 * covered by saved chunks. Everything is checked before the first buffer is written.
 */
export function loadShardedCheckpoint(dir: string, program: Program, options: LoadShardedOptions = {}): ShardIndex {
  const index = options.index ?? readShardIndex(dir);
  const names = options.names ?? defaultNames(program);
  const missing = names.filter((n) => !index.tensors[n]);
  if (missing.length) {
    throw checkpointError(dir, 'tensor-missing', `holds no ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}`, { expected: names.slice(0, 5).join(', '), received: Object.keys(index.tensors).slice(0, 5).join(', ') });
  }
  const plan = names.map((name) => {
    const t = index.tensors[name]!;
    const s: BufferSlices = program.slices(name);
    if (t.dtype !== s.dtype || t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i])) {
      throw checkpointError(dir, 'tensor-mismatch', `'${name}' is ${t.dtype}[${t.shape.join(', ')}] in the checkpoint`, { tensor: name, expected: `${s.dtype}[${s.shape.join(', ')}]`, received: `${t.dtype}[${t.shape.join(', ')}]` });
    }
    const ranks = s.ranks.map((rank) => ({ rank, boxes: rankBoxes(s.shape, s.dims, s.mesh, rank.coords) }));
    for (const r of ranks) checkCovered(dir, name, t, r.boxes);
    return { name, t, s, ranks };
  });
  using files = new RankFiles(dir);
  // Every chunk header checked (dtype and size) before any buffer is written: a bad chunk fails here.
  for (const { t } of plan) for (const c of t.chunks) checkChunkEntry(files, dir, c, t.dtype);
  for (const { name, t, s, ranks } of plan) {
    const shapeHere = localShape(name, s.shape, s.dims, s.mesh);
    for (const { rank, boxes } of ranks) {
      const local = allocHostArray(s.dtype, volume(shapeHere));
      for (const { box, localStart } of boxes) readBox(files, dir, t, box, local, shapeHere, localStart);
      rank.write(local);
    }
  }
  return index;
}

/** One saved tensor whole (its global shape), assembled from its chunks: export and --init read sharded checkpoints this way. */
export function readShardedTensor(dir: string, index: ShardIndex, name: string): HostArray {
  const t = index.tensors[name];
  if (!t) throw checkpointError(dir, 'tensor-missing', `holds no ${name}`, { tensor: name, expected: name, received: 'missing' });
  const whole: Box = { offsets: t.shape.map(() => 0), sizes: [...t.shape] };
  checkCovered(dir, name, t, [{ box: whole }]);
  using files = new RankFiles(dir);
  const out = allocHostArray(t.dtype, volume(t.shape));
  readBox(files, dir, t, whole, out, t.shape, whole.offsets);
  return out;
}
