/**
 * Checkpoints: one directory per step, committed atomically.
 *
 *   <dir>/step-<n>/model.safetensors      parameters (the fp32 masters), by name
 *                  optimizer.safetensors  optimizer state (moments, factored moments, accumulators)
 *                  trainer.json           step, seed, data position, schedule, optimizer, precision, model config
 *                  manifest.json          format version, and the size and SHA-256 of each file above
 *
 * A program on a mesh of several devices saves the 'sharded' layout instead of the two safetensors
 * files: index.json and rank-<r>.safetensors, each device writing only the slices it holds (each
 * box once: lib/io/sharded-checkpoint.ts), under the same trainer.json and manifest (which hashes
 * every rank file). Either layout loads into a program on any mesh, one device included.
 *
 * Saving writes everything into `<dir>/.tmp-step-<n>-<pid>-<rand>-on-<host>/`, fsyncs each file, renames the
 * directory to `step-<n>` (atomic) and fsyncs `<dir>`: a crash at any moment leaves the previous
 * checkpoints and either the complete new one or a temporary directory that nothing reads. Loading
 * verifies the manifest's hashes, then every tensor's presence, shape and dtype against the program,
 * and the model config, before it writes a single buffer.
 *
 * Gradients (`grad/*`) and constants are not saved: a step recomputes the first and compile() the second.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import type { Program } from '../graph/program';
import type { HostArray } from '../runtime/dtype';
import { isVit22bError, Vit22bError } from '../runtime/errors';
import { fsyncDir, writeFileAtomic, writeAll } from './atomic-file';
import {
  indexFiles,
  INDEX_FILE,
  loadShardedCheckpoint,
  readShardIndex,
  shardIndexOf,
  writeRankFiles,
  writeShardIndex,
} from './sharded-checkpoint';
import {
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  checkpointError,
  hashFile,
  layoutOf,
  MANIFEST_FILE,
  readCheckpointJson,
  readManifest,
  requireListed,
  verifyCheckpointFiles,
  type CheckpointLayout,
  type CheckpointManifest,
  type ManifestFile,
} from './checkpoint-manifest';
import { lockCheckpointDir, pidAlive } from './checkpoint-lock';
import { SaveAgreement, saveFaultHook } from './save-agreement';
import { jsonDepth, MAX_JSON_DEPTH } from './json-depth';
import { ioError, isSystemError } from './output-path';
import { requireObject, requireString } from '../runtime/arg-checks';
import { SAFETENSORS_OF_DTYPE } from './safetensors-dtype';
import { SafetensorsFile, writeSafetensors, type SafetensorsTensor } from './safetensors';

export { checkpointError, type CheckpointLayout, type CheckpointManifest } from './checkpoint-manifest';

export const MODEL_FILE = 'model.safetensors';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const TRAINER_FILE = 'trainer.json';

const STEP_DIR = /^step-(\d+)$/;

export interface SaveCheckpointOptions {
  program: Program;
  /** The optimizer steps taken; the directory is `step-<step>`. */
  step: number;
  /** The model config, checked on load (any JSON value; the Trainer records the ModelConfig). */
  config?: unknown;
  /** Whatever a resume needs besides the buffers (seed, data position, schedule, ...): stored in trainer.json. */
  trainerState?: Record<string, unknown>;
  /** Keep only the newest `keep` committed checkpoints in `dir` (older ones are removed after the save). */
  keep?: number;
  /**
   * 'sharded': every device writes its own slices (index.json + rank-<r>.safetensors); 'single':
   * global tensors in model.safetensors and optimizer.safetensors. Default: sharded when the program
   * spans more than one device (no device's memory ever holds a whole tensor it does not own).
   */
  layout?: CheckpointLayout;
}

/** trainer.json. */
export interface TrainerJson {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  step: number;
  config?: unknown;
  trainerState: Record<string, unknown>;
}

export interface LoadedCheckpoint {
  path: string;
  step: number;
  manifest: CheckpointManifest;
  trainer: TrainerJson;
}

/** Which buffers go where: parameters in model.safetensors, optimizer state in optimizer.safetensors. */
function partition(program: Program): { model: string[]; optimizer: string[] } {
  const model: string[] = [];
  const optimizer: string[] = [];
  for (const n of program.bufferNames()) {
    const kind = program.bufferKind(n);
    if (kind === 'param') model.push(n);
    else if (kind === 'state') optimizer.push(n);
  }
  return { model, optimizer };
}

function tensorsOf(program: Program, names: string[]): Record<string, SafetensorsTensor> {
  const out: Record<string, SafetensorsTensor> = {};
  for (const n of names) out[n] = { dtype: SAFETENSORS_OF_DTYPE[program.bufferDType(n)], shape: program.bufferShape(n), data: program.read(n) };
  return out;
}

/** The directory name of step `step`'s checkpoint. */
export function stepDirName(step: number): string {
  return `step-${step}`;
}

/**
 * Saves a checkpoint of `program` as `<dir>/step-<step>` (atomically); returns its path.
 *
 * Over MPI processes (a program whose mesh spans processes) every process must call it, for the
 * same step: the 'single' layout reads global tensors (collective reads), then rank 0 alone writes;
 * the 'sharded' layout has every process write its own rank files into one temporary directory that
 * rank 0 made, then rank 0 writes the index, trainer.json and the manifest (hashes from every
 * process) and commits with one rename. The processes agree at three points (the directory made,
 * every rank file written, the commit), so a failure on any process fails the save on all of them,
 * each naming the rank that failed; rank 0 alone locks, prunes and removes a failed save's files.
 */
export function saveCheckpoint(dir: string, o: SaveCheckpointOptions): string {
  requireString(dir, 'saveCheckpoint dir');
  requireObject(o, 'saveCheckpoint options', '{ program, step, ... }');
  if (!Number.isSafeInteger(o.step) || o.step < 0) throw checkpointError(dir, 'step-invalid', 'step must be a non-negative integer', { received: String(o.step) });
  const { model, optimizer } = partition(o.program);
  const mesh = o.program.mesh;
  const layout: CheckpointLayout = o.layout ?? (mesh.data * mesh.model > 1 ? 'sharded' : 'single');
  const session = o.program.session;
  const leader = !session.multiProcess || session.meshRanks[0] === 0;
  // The single layout's global tensors, read before anything is written: over MPI processes a read
  // of a sharded buffer is collective (Program.read), so every process reads them all, in order.
  const single = layout === 'single' ? { model: tensorsOf(o.program, model), optimizer: tensorsOf(o.program, optimizer) } : undefined;
  if (single && !leader) return path.join(dir, stepDirName(o.step));
  const release = leader ? lockCheckpointDir(dir) : () => {};
  try {
    return saveLocked(dir, o, { layout, names: [...model, ...optimizer], single, leader });
  } finally {
    release();
  }
}

/** This host's name as it appears in temporary directory names (no path separators, no spaces). */
const HOST = os.hostname().replace(/[^A-Za-z0-9._-]/g, '_') || 'host';

/**
 * The temporary directory of a save: `.tmp-step-<n>-<pid>-<rand>-on-<host>`. The pid and host say
 * whose save it is, so pruning removes only the temporaries of crashed saves on this host and never
 * another process's in-flight one (a pid of another machine cannot be checked from here). Over MPI
 * processes the name is rank 0's: the others write their rank files into it.
 */
function temporaryName(step: number): string {
  return `.tmp-${stepDirName(step)}-${process.pid}-${randomBytes(4).toString('hex')}-on-${HOST}`;
}
const TEMPORARY = /^\.tmp-step-\d+-(\d+)-[0-9a-f]+(?:-on-([A-Za-z0-9._-]+?))?(?:-replaced)?$/;

interface SaveParts {
  layout: CheckpointLayout;
  /** Parameters then optimizer state. */
  names: string[];
  /** The single layout's global tensors (read by the caller). */
  single?: { model: Record<string, SafetensorsTensor>; optimizer: Record<string, SafetensorsTensor> };
  /** This process writes the shared files and commits (always, on one process). */
  leader: boolean;
}

function saveLocked(dir: string, o: SaveCheckpointOptions, parts: SaveParts): string {
  const final = path.join(dir, stepDirName(o.step));
  const agree = new SaveAgreement(o.program, final);
  // 1. The leader makes the temporary directory; everyone learns its name.
  let tmp = parts.leader ? path.join(dir, temporaryName(o.step)) : '';
  const made = agree.step('make the temporary directory', () => {
    if (!parts.leader) return {};
    try {
      fs.mkdirSync(tmp);
    } catch (e) {
      throw ioError(e, tmp, 'create the folder');
    }
    return { tmp };
  });
  tmp = made[0]!.tmp as string;
  try {
    // 2. Tensor files: every process its own rank files (sharded), or the leader both files (single).
    const written = agree.step('write the tensor files', () => {
      saveFaultHook(o.program);
      let files: string[];
      if (parts.layout === 'sharded') {
        files = writeRankFiles(tmp, o.program, parts.names);
      } else {
        if (!parts.leader) return { files: [] };
        const meta = { format: CHECKPOINT_FORMAT, step: String(o.step) };
        writeSafetensors(path.join(tmp, MODEL_FILE), parts.single!.model, meta);
        writeSafetensors(path.join(tmp, OPTIMIZER_FILE), parts.single!.optimizer, meta);
        files = [MODEL_FILE, OPTIMIZER_FILE];
      }
      // Each process hashes what it wrote: nobody reads another machine's files back.
      return { files: files.map((name) => ({ name, ...hashFile(path.join(tmp, name)) })) };
    });
    // 3. The leader writes the index, trainer.json and the manifest (last), and commits.
    agree.step('commit', () => {
      if (!parts.leader) return {};
      const hashed = written.flatMap((w) => w.files as ManifestFile[]);
      if (parts.layout === 'sharded') {
        const index = shardIndexOf(o.program, parts.names);
        writeShardIndex(tmp, index);
        // Every file the index names was written by some process (a rank with nothing of its own writes none).
        const have = new Set(hashed.map((f) => f.name));
        const lost = indexFiles(index).filter((f) => !have.has(f));
        if (lost.length) throw checkpointError(tmp, 'rank-file-missing', `no process wrote ${lost.join(', ')}`, { expected: indexFiles(index).join(', '), received: [...have].join(', ') });
        hashed.unshift({ name: INDEX_FILE, ...hashFile(path.join(tmp, INDEX_FILE)) });
      }
      const trainer: TrainerJson = { format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, step: o.step, config: o.config, trainerState: o.trainerState ?? {} };
      writeJson(path.join(tmp, TRAINER_FILE), trainer);
      const mesh = o.program.mesh;
      const manifest: CheckpointManifest = {
        format: CHECKPOINT_FORMAT,
        version: CHECKPOINT_VERSION,
        step: o.step,
        worldSize: parts.layout === 'sharded' ? mesh.data * mesh.model : 1,
        ...(parts.layout === 'sharded' ? { layout: parts.layout, mesh: { data: mesh.data, model: mesh.model } } : {}),
        files: [...hashed, { name: TRAINER_FILE, ...hashFile(path.join(tmp, TRAINER_FILE)) }],
      };
      // The manifest last: a directory without one is never a checkpoint.
      writeJson(path.join(tmp, MANIFEST_FILE), manifest);
      fsyncDir(tmp);
      if (fs.existsSync(final)) {
        // Saving a step again (a resume from an older checkpoint): move the old one aside first, since
        // rename cannot replace a non-empty directory. Older steps stay committed throughout.
        const old = `${tmp}-replaced`;
        fs.renameSync(final, old);
        fs.renameSync(tmp, final);
        fs.rmSync(old, { recursive: true, force: true });
      } else {
        fs.renameSync(tmp, final);
      }
      fsyncDir(dir);
      return {};
    });
  } catch (e) {
    if (parts.leader) fs.rmSync(tmp, { recursive: true, force: true });
    // A full disk or a read-only file system: ERR_IO naming the path, not a raw Node error.
    throw isSystemError(e) ? ioError(e, e.path ?? final, 'save the checkpoint') : e;
  }
  if (parts.leader) {
    if (o.keep !== undefined) pruneCheckpoints(dir, o.keep);
    else removeOrphanTemporaries(dir);
  }
  return final;
}

function writeJson(file: string, value: unknown): void {
  writeFileAtomic(file, (fd) => writeAll(fd, new TextEncoder().encode(JSON.stringify(value, null, 2) + '\n')));
}

/** Committed checkpoints in `dir` (step directories with a manifest), newest first; not verified. */
export function listCheckpoints(dir: string): { step: number; path: string }[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .map((n) => ({ m: STEP_DIR.exec(n), n }))
    .filter((x) => x.m && fs.existsSync(path.join(dir, x.n, MANIFEST_FILE)))
    .map((x) => ({ step: Number(x.m![1]), path: path.join(dir, x.n) }))
    .sort((a, b) => b.step - a.step);
}

/**
 * The newest committed checkpoint in `dir` whose manifest verifies (every file's size and hash), or
 * undefined if there is none. A checkpoint that fails verification is passed over for an older one.
 */
export function latestCheckpoint(dir: string, onSkip?: CheckpointSkipHandler): string | undefined {
  for (const c of listCheckpoints(dir)) {
    try {
      const m = readManifest(c.path);
      requireListed(c.path, m, [layoutOf(m) === 'sharded' ? INDEX_FILE : MODEL_FILE, TRAINER_FILE]);
      verifyCheckpointFiles(c.path, m);
      return c.path;
    } catch (e) {
      if (!isVit22bError(e, 'ERR_CHECKPOINT')) throw e;
      onSkip?.(c.path, e);
    }
  }
  return undefined;
}

/** Told of each newer checkpoint passed over for an older one, and why (so a fallback is never silent). */
export type CheckpointSkipHandler = (path: string, error: Vit22bError) => void;

/** The stderr line for a checkpoint passed over (CLI commands print it). */
export function describeSkippedCheckpoint(at: string, e: Vit22bError): string {
  return `vit22b: passing over checkpoint ${at}: ${e.code} ${String(e.details.rule ?? '')}: ${e.message}`;
}

/** `from` itself if it is a checkpoint (has a manifest), else the newest in it that verifies; ERR_CHECKPOINT none-found if none. */
export function resolveCheckpoint(from: string, onSkip?: CheckpointSkipHandler): string {
  requireString(from, 'resolveCheckpoint from');
  const dir = fs.existsSync(path.join(from, MANIFEST_FILE)) ? from : latestCheckpoint(from, onSkip);
  if (dir === undefined) throw checkpointError(from, 'none-found', 'no committed checkpoint that verifies (step-<n> directories with a manifest)', {
      expected: 'a step-<n> directory with a manifest, or a directory holding one that verifies',
      received: `${listCheckpoints(from).length} committed, none verifying`,
    });
  return dir;
}

/**
 * Removes all but the newest `keep` committed checkpoints, and the temporary directories of crashed
 * saves. Takes the directory's lock first, so it never runs beside another run's saves.
 */
export function pruneCheckpoints(dir: string, keep: number): void {
  if (!Number.isSafeInteger(keep) || keep < 1) throw checkpointError(dir, 'keep-invalid', 'keep must be an integer >= 1', { received: String(keep) });
  if (listCheckpoints(dir).length === 0 && !fs.existsSync(dir)) return; // nothing to prune: no folder made either
  const release = lockCheckpointDir(dir);
  try {
    for (const c of listCheckpoints(dir).slice(keep)) fs.rmSync(c.path, { recursive: true, force: true });
    removeOrphanTemporaries(dir);
  } finally {
    release();
  }
}

/**
 * Temporary directories (`.tmp-step-<n>-<pid>-<rand>[-on-<host>]`) whose save can no longer finish:
 * on this host, and their pid is gone (a crash). Called with the lock held, so no other run saves here; a live pid's directory is left
 * alone all the same (this process's own in-flight saves never overlap this call).
 */
function removeOrphanTemporaries(dir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    const m = TEMPORARY.exec(n);
    if (!m) continue;
    const pid = Number(m[1]);
    // Another host's save (a shared file system): its pid means nothing here, so it is left alone.
    const here = m[2] === undefined || m[2] === HOST;
    if (here && pid !== process.pid && !pidAlive(pid)) fs.rmSync(path.join(dir, n), { recursive: true, force: true });
  }
}

/** Reads and checks trainer.json's shape (loadCheckpoint verifies its hash first). */
export function readTrainerJson(dir: string): TrainerJson {
  const file = path.join(dir, TRAINER_FILE);
  const text = readCheckpointJson(file, 'file-missing');
  // Compared with JSON.stringify later (recursive): a deep file is refused here instead.
  if (jsonDepth(text) > MAX_JSON_DEPTH) throw checkpointError(file, 'trainer-state-invalid', `nests deeper than ${MAX_JSON_DEPTH} levels`, { expected: `depth <= ${MAX_JSON_DEPTH}`, received: `depth ${jsonDepth(text)}` });
  let t: TrainerJson;
  try {
    t = JSON.parse(text) as TrainerJson;
  } catch (e) {
    throw checkpointError(file, 'trainer-state-invalid', 'trainer.json is not JSON', { expected: 'JSON', received: (e as Error).message });
  }
  if (!t || typeof t !== 'object' || t.format !== CHECKPOINT_FORMAT || !Number.isSafeInteger(t.step) || typeof t.trainerState !== 'object' || t.trainerState === null || Array.isArray(t.trainerState)) {
    throw checkpointError(file, 'trainer-state-invalid', 'trainer.json is not a vit22b trainer state', {
      expected: `{ format: "${CHECKPOINT_FORMAT}", step, trainerState: {...} }`,
      received: t === null || typeof t !== 'object' ? String(t) : `keys ${Object.keys(t).slice(0, 8).join(', ') || '(none)'}`,
    });
  }
  return t;
}

/** JSON with object keys sorted, so two equal configs compare equal whatever their key order. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x,
  );
}

/**
 * Verifies the checkpoint at `dir` and writes its buffers into `program`. With `config`, the
 * checkpoint's model config must equal it. With `parametersOnly`, only model.safetensors is loaded
 * (evaluation: the program's optimizer may differ). Nothing is written unless everything checks.
 */
export function loadCheckpoint(dir: string, program: Program, options: { config?: unknown; parametersOnly?: boolean } = {}): LoadedCheckpoint {
  requireString(dir, 'loadCheckpoint dir');
  requireObject(program, 'loadCheckpoint program', 'a compiled Program');
  const manifest = readManifest(dir);
  const tensorFiles = layoutOf(manifest) === 'sharded' ? [INDEX_FILE] : options.parametersOnly ? [MODEL_FILE] : [MODEL_FILE, OPTIMIZER_FILE];
  requireListed(dir, manifest, [...tensorFiles, TRAINER_FILE]);
  verifyCheckpointFiles(dir, manifest);
  const trainer = readTrainerJson(dir);
  const trainerFile = path.join(dir, TRAINER_FILE);
  if (trainer.step !== manifest.step) {
    throw checkpointError(trainerFile, 'step-mismatch', 'trainer.json and the manifest disagree on the step', { expected: String(manifest.step), received: String(trainer.step) });
  }
  if (options.config !== undefined && canonical(trainer.config) !== canonical(options.config)) {
    throw checkpointError(trainerFile, 'config-mismatch', 'the checkpoint was made for another model config', {
      expected: canonical(options.config),
      received: canonical(trainer.config),
    });
  }
  const { model, optimizer } = partition(program);
  if (layoutOf(manifest) === 'sharded') {
    loadSharded(dir, manifest, program, options.parametersOnly ? model : [...model, ...optimizer], options.parametersOnly ?? false);
    return { path: dir, step: manifest.step, manifest, trainer };
  }
  const files = [
    { name: MODEL_FILE, buffers: model },
    ...(options.parametersOnly ? [] : [{ name: OPTIMIZER_FILE, buffers: optimizer }]),
  ].map((f) => ({ ...f, st: openChecked(path.join(dir, f.name)) }));
  try {
    for (const f of files) checkTensors(f.st, f.buffers, program);
    for (const f of files) for (const n of f.buffers) program.write(n, f.st.readHost(n) as HostArray);
  } finally {
    for (const f of files) f.st.close();
  }
  return { path: dir, step: manifest.step, manifest, trainer };
}

/**
 * A sharded checkpoint (verified by the caller) into `program`, on whatever mesh: every rank file
 * the index names must be one the manifest hashed, and the index must hold exactly the program's
 * parameters (and, unless parametersOnly, its optimizer state), as the single layout's files must.
 */
function loadSharded(dir: string, manifest: CheckpointManifest, program: Program, names: string[], parametersOnly: boolean): void {
  const index = readShardIndex(dir);
  requireListed(dir, manifest, indexFiles(index));
  const want = new Set(names);
  for (const [n, t] of Object.entries(index.tensors)) {
    // Parameters-only loads (evaluation) ignore the optimizer state: the program's optimizer may differ.
    const relevant = !parametersOnly || t.kind === undefined || t.kind === 'param';
    if (relevant && !want.has(n)) throw checkpointError(path.join(dir, INDEX_FILE), 'tensor-unexpected', `holds ${JSON.stringify(n)}, which this model does not have`, { tensor: n });
  }
  loadShardedCheckpoint(dir, program, { names, index });
}

function openChecked(file: string): SafetensorsFile {
  try {
    return SafetensorsFile.open(file);
  } catch (e) {
    if (isVit22bError(e, 'ERR_SAFETENSORS')) {
      // The hash matched, so the file is as written: a writer bug or a hand-made manifest.
      throw checkpointError(file, 'file-invalid', `not a valid safetensors file (${e.details.rule as string}): ${e.message}`, { cause: e.details.rule });
    }
    throw e;
  }
}

/** The file must hold exactly the program's buffers, each with the program's shape and dtype. */
function checkTensors(st: SafetensorsFile, names: string[], program: Program): void {
  const want = new Set(names);
  for (const n of st.names()) {
    if (!want.has(n)) throw checkpointError(st.file, 'tensor-unexpected', `holds ${JSON.stringify(n)}, which this model does not have`, { tensor: n });
  }
  for (const n of names) {
    if (!st.has(n)) throw checkpointError(st.file, 'tensor-missing', `has no ${JSON.stringify(n)}, which this model needs`, { tensor: n });
    const e = st.entry(n);
    const shape = program.bufferShape(n);
    if (e.shape.length !== shape.length || e.shape.some((d, i) => d !== shape[i])) {
      throw checkpointError(st.file, 'shape-mismatch', `${JSON.stringify(n)} is [${e.shape.join(', ')}], the model's is [${shape.join(', ')}]`, {
        tensor: n,
        expected: `[${shape.join(', ')}]`,
        received: `[${e.shape.join(', ')}]`,
      });
    }
    const dtype = SAFETENSORS_OF_DTYPE[program.bufferDType(n)];
    if (e.dtype !== dtype) throw checkpointError(st.file, 'dtype-mismatch', `${JSON.stringify(n)} is ${e.dtype}, the model's is ${dtype}`, { tensor: n, expected: dtype, received: e.dtype });
  }
}
