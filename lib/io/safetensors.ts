/**
 * Our own safetensors reader and writer (no dependency). The format: an 8-byte little-endian header
 * length N, N bytes of JSON ({name: {dtype, shape, data_offsets}, "__metadata__": {string: string}}),
 * then the tensors' bytes back to back. Validation rules: lib/io/safetensors-header.ts.
 *
 *   writeSafetensors('w.safetensors', { 'blocks.0.w': { dtype: 'F32', shape: [4, 4], data } }, { format: 'pt' });
 *   using f = SafetensorsFile.open('w.safetensors');   // reads and validates the header only
 *   const w = f.read('blocks.0.w');                     // one positioned read of that tensor's bytes
 *
 * Reading never loads the whole file: the header is read first, then each tensor with fs.readSync at
 * its offset. Writing streams the tensors into a temporary file that is fsynced and renamed, so a
 * crash never leaves a half-written file under the target name.
 */
import * as fs from 'node:fs';
import type { HostArray } from '../runtime/dtype';
import { writeAll, writeFileAtomic } from './atomic-file';
import { openRegularFile, readFully } from './regular-file';
import { requireBytes, requireObject, requireString } from '../runtime/arg-checks';
import { headerLength, METADATA_KEY, parseHeader, safetensorsError, type SafetensorsEntry, type SafetensorsHeader } from './safetensors-header';
import { isSafetensorsDType, SAFETENSORS_DTYPE_BYTES, type SafetensorsDType } from './safetensors-dtype';

export { MAX_HEADER_BYTES, type SafetensorsEntry, type SafetensorsHeader } from './safetensors-header';
export { SAFETENSORS_DTYPE_BYTES, type SafetensorsDType } from './safetensors-dtype';

/** One tensor to write: its bytes are `data`'s (little-endian, as every TypedArray is on x64). */
export interface SafetensorsTensor {
  dtype: SafetensorsDType;
  shape: readonly number[];
  data: ArrayBufferView;
}

/** Validates a whole safetensors file held in memory (tests, small files); returns its header. */
export function parseSafetensors(bytes: Uint8Array, file = '<memory>'): SafetensorsHeader {
  requireBytes(bytes, 'parseSafetensors bytes');
  const n = headerLength(bytes, bytes.length, file);
  return parseHeader(bytes.subarray(8, 8 + n), bytes.length, file);
}

/** The bytes of one tensor of an in-memory file parsed by parseSafetensors (a view, not a copy). */
export function tensorBytes(bytes: Uint8Array, entry: SafetensorsEntry): Uint8Array {
  return bytes.subarray(entry.offset, entry.offset + entry.byteLength);
}

/** An open safetensors file: the validated header, and tensors read on demand. */
export class SafetensorsFile implements Disposable {
  readonly header: SafetensorsHeader;
  private fd: number | undefined;

  private constructor(readonly file: string, fd: number, header: SafetensorsHeader) {
    this.fd = fd;
    this.header = header;
  }

  /** Opens `file` and validates its header (reading the header's bytes and nothing else). */
  static open(file: string): SafetensorsFile {
    requireString(file, 'SafetensorsFile.open file');
    // A FIFO, a device or a directory is refused before any read (a read of one could wait forever).
    // The rule stays file-unreadable (stable since the first release); details.reason says which.
    const { fd, size } = openRegularFile(file, (reason, message, extra) => safetensorsError(file, 'file-unreadable', message.replace(`${file} `, ''), { ...extra, reason }));
    try {
      const prefix = new Uint8Array(8);
      const got = readAt(fd, prefix, 0);
      const n = headerLength(prefix.subarray(0, got), size, file);
      const headerBytes = new Uint8Array(n);
      const got8 = readAt(fd, headerBytes, 8);
      if (got8 !== n) throw safetensorsError(file, 'header-truncated', 'the file ended inside the header', { expected: `${n} header bytes`, received: `${got8} bytes` });
      return new SafetensorsFile(file, fd, parseHeader(headerBytes, size, file));
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  get metadata(): Record<string, string> {
    return this.header.metadata;
  }

  /** Tensor names in file order. */
  names(): string[] {
    return this.header.entries.map((e) => e.name);
  }

  has(name: string): boolean {
    return this.header.byName.has(name);
  }

  entry(name: string): SafetensorsEntry {
    const e = this.header.byName.get(name);
    if (!e) throw safetensorsError(this.file, 'tensor-missing', `no tensor named ${JSON.stringify(name)}`, { tensor: name, expected: name, received: 'absent' });
    return e;
  }

  /** A tensor's raw bytes, read with one positioned read (8-byte aligned, so typed views fit). */
  read(name: string): Uint8Array {
    const e = this.entry(name);
    if (this.fd === undefined) throw safetensorsError(this.file, 'closed', 'the file is closed');
    const out = new Uint8Array(e.byteLength);
    if (readAt(this.fd, out, e.offset) !== e.byteLength) {
      // The header was valid when opened: the file has shrunk since.
      throw safetensorsError(this.file, 'data-truncated', `the file ended inside tensor ${JSON.stringify(name)}`, { tensor: name });
    }
    return out;
  }

  /** A tensor as the TypedArray our buffers use (F32, BF16 as raw bits, I32, U8). */
  readHost(name: string): HostArray {
    const e = this.entry(name);
    const b = this.read(name);
    switch (e.dtype) {
      case 'F32':
        return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
      case 'BF16':
        return new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2);
      case 'I32':
        return new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4);
      case 'U8':
        return b;
      default:
        throw safetensorsError(this.file, 'dtype-unsupported', `tensor ${JSON.stringify(name)} is ${e.dtype}, which no vit22b buffer holds`, {
          tensor: name,
          expected: 'F32 | BF16 | I32 | U8',
          received: e.dtype,
        });
    }
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Reads until `into` is full or the file ends, in chunks (a tensor may be 2 GiB or more); returns the bytes read. */
function readAt(fd: number, into: Uint8Array, position: number): number {
  return readFully(fd, into, position);
}

/**
 * The header bytes for `tensors` (sorted by name, laid out in that order) and `metadata`, padded
 * with spaces to a multiple of 8 so the data starts 8-byte aligned, as the reference writer does.
 */
export function encodeHeader(tensors: Record<string, SafetensorsTensor>, metadata?: Record<string, string>, file = '<memory>'): Uint8Array {
  requireObject(tensors, 'tensors', 'an object of { dtype, shape, data }');
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    if (metadata === null || typeof metadata !== 'object' || Object.values(metadata).some((v) => typeof v !== 'string')) {
      throw safetensorsError(file, 'metadata-invalid', '__metadata__ must be an object of strings', { expected: 'Record<string, string>' });
    }
    header[METADATA_KEY] = metadata;
  }
  let offset = 0;
  for (const name of Object.keys(tensors).sort()) {
    const t = requireObject(tensors[name], `tensor ${JSON.stringify(name)}`, '{ dtype, shape, data }');
    if (!ArrayBuffer.isView(t.data)) throw safetensorsError(file, 'data-invalid', `tensor ${JSON.stringify(name)} has no data`, { tensor: name, expected: 'data: a TypedArray', received: String(t.data) });
    if (name === METADATA_KEY) throw safetensorsError(file, 'name-reserved', `${METADATA_KEY} is reserved and cannot name a tensor`, { tensor: name });
    if (!isSafetensorsDType(t.dtype)) throw safetensorsError(file, 'dtype-unknown', `tensor ${JSON.stringify(name)} has an unknown dtype`, { tensor: name, received: String(t.dtype) });
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw safetensorsError(file, 'shape-invalid', `tensor ${JSON.stringify(name)} has an invalid shape`, { tensor: name, received: String(t.shape) });
    }
    const bytes = t.shape.reduce((a, d) => a * BigInt(d), BigInt(SAFETENSORS_DTYPE_BYTES[t.dtype]));
    if (bytes !== BigInt(t.data.byteLength)) {
      throw safetensorsError(file, 'size-mismatch', `tensor ${JSON.stringify(name)}: [${t.shape.join(', ')}] ${t.dtype} needs ${bytes} bytes`, {
        tensor: name,
        expected: `${bytes} bytes`,
        received: `${t.data.byteLength} bytes`,
      });
    }
    // Defined, not assigned: a tensor named "__proto__" stays an ordinary key.
    Object.defineProperty(header, name, { value: { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + t.data.byteLength] }, enumerable: true });
    offset += t.data.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = new Uint8Array(8 + Math.ceil(json.length / 8) * 8).fill(0x20);
  new DataView(padded.buffer).setBigUint64(0, BigInt(padded.length - 8), true);
  padded.set(json, 8);
  return padded;
}

function bytesOf(v: ArrayBufferView): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/** A whole file in memory (tests, small files). */
export function serializeSafetensors(tensors: Record<string, SafetensorsTensor>, metadata?: Record<string, string>): Uint8Array {
  const header = encodeHeader(tensors, metadata);
  const names = Object.keys(tensors).sort();
  const out = new Uint8Array(header.length + names.reduce((s, n) => s + tensors[n]!.data.byteLength, 0));
  out.set(header, 0);
  let at = header.length;
  for (const n of names) {
    out.set(bytesOf(tensors[n]!.data), at);
    at += tensors[n]!.data.byteLength;
  }
  return out;
}

/** Writes `file` atomically (temporary name, fsync, rename), one tensor at a time. */
export function writeSafetensors(file: string, tensors: Record<string, SafetensorsTensor>, metadata?: Record<string, string>): void {
  const header = encodeHeader(tensors, metadata, file);
  writeFileAtomic(file, (fd) => {
    writeAll(fd, header);
    for (const n of Object.keys(tensors).sort()) writeAll(fd, bytesOf(tensors[n]!.data));
  });
}
