/**
 * The safetensors header: an 8-byte little-endian length N, then N bytes of UTF-8 JSON, then the
 * data. Validation follows the reference implementation (huggingface/safetensors) rule by rule, and
 * every rejection is ERR_SAFETENSORS with `details.file` and a stable `details.rule`:
 *
 *   file-unreadable       the file cannot be opened (missing, no permission), or is a directory, FIFO,
 *                         device or socket (refused before any read; details.reason says which)
 *   file-too-short        fewer than 8 bytes
 *   header-too-large      N above the cap (100 MB, the reference's)
 *   header-truncated      N runs past the end of the file
 *   header-utf8           the header is not valid UTF-8
 *   header-start          the header does not begin with '{'
 *   header-json           the header is not JSON
 *   duplicate-key         a key appears twice in one object
 *   number-not-integer    a number written with a fraction or exponent (1.0, 1e3)
 *   metadata-invalid      `__metadata__` is not an object of strings
 *   entry-invalid         an entry is not exactly {dtype, shape, data_offsets}
 *   dtype-unknown         a dtype the format does not define
 *   shape-invalid         a shape that is not an array of non-negative safe integers
 *   offsets-invalid       data_offsets not [begin, end] safe integers with begin <= end
 *   size-overflow         prod(shape) x dtype size overflows
 *   size-mismatch         end - begin != prod(shape) x dtype size
 *   offsets-not-contiguous  a hole or an overlap between tensors (sorted by offset), or not from 0
 *   data-size-mismatch    the last tensor does not end exactly at the end of the file
 */
import { Vit22bError } from '../runtime/errors';
import { findDuplicateKey } from './json-duplicate-keys';
import { findNonIntegerNumber } from './json-integer-literals';
import { isSafetensorsDType, SAFETENSORS_DTYPE_BYTES, type SafetensorsDType } from './safetensors-dtype';

/** The reference implementation's cap on the header length. */
export const MAX_HEADER_BYTES = 100_000_000;

export const METADATA_KEY = '__metadata__';

export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** Absolute offset of the first byte in the file. */
  offset: number;
  byteLength: number;
}

export interface SafetensorsHeader {
  /** Entries in file order (by offset). */
  entries: SafetensorsEntry[];
  byName: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
  /** 8 + N: where the data begins. */
  dataStart: number;
}

export function safetensorsError(file: string, rule: string, message: string, extra: { expected?: string; received?: string; [k: string]: unknown } = {}): Vit22bError {
  return new Vit22bError('ERR_SAFETENSORS', `${file}: ${message}`, { file, rule, ...extra });
}

/** Reads N from the first 8 bytes, checking it against the cap and the file size. */
export function headerLength(prefix: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8 || prefix.length < 8) {
    throw safetensorsError(file, 'file-too-short', 'too short to be a safetensors file (no 8-byte header length)', { expected: 'at least 8 bytes', received: `${fileSize} bytes` });
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw safetensorsError(file, 'header-too-large', 'header length is above the 100 MB cap', { expected: `<= ${MAX_HEADER_BYTES}`, received: n.toString() });
  }
  const len = Number(n);
  if (8 + len > fileSize) {
    throw safetensorsError(file, 'header-truncated', 'header length runs past the end of the file', { expected: `<= ${fileSize - 8}`, received: String(len) });
  }
  return len;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Validates a header. `headerBytes` are the N bytes after the length; `fileSize` is the whole file's
 * size (the data must end exactly there).
 */
export function parseHeader(headerBytes: Uint8Array, fileSize: number, file: string): SafetensorsHeader {
  const dataStart = 8 + headerBytes.length;
  let text: string;
  try {
    text = utf8.decode(headerBytes);
  } catch {
    throw safetensorsError(file, 'header-utf8', 'header is not valid UTF-8', { expected: 'UTF-8 text', received: 'invalid UTF-8 bytes' });
  }
  if (!text.startsWith('{')) {
    throw safetensorsError(file, 'header-start', "header does not begin with '{'", { expected: '{', received: JSON.stringify(text.slice(0, 1)) });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    // Any throw (a SyntaxError, or a RangeError from absurd nesting) is a bad header, never a crash.
    throw safetensorsError(file, 'header-json', `header is not JSON (${e instanceof Error ? e.message : String(e)})`, { expected: 'a JSON object', received: e instanceof Error ? e.message : String(e) });
  }
  // JSON that begins with '{' and parses is an object: header-start already refused the rest.
  const dup = findDuplicateKey(text);
  if (dup !== undefined) throw safetensorsError(file, 'duplicate-key', `key ${JSON.stringify(dup)} appears twice in one object`, { key: dup, expected: 'each key once per object', received: `${JSON.stringify(dup)} twice` });
  const literal = findNonIntegerNumber(text);
  if (literal !== undefined) {
    throw safetensorsError(file, 'number-not-integer', `the number ${literal} is not an integer literal`, { expected: 'digits only (shapes and offsets are unsigned integers)', received: literal });
  }

  let metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      metadata = checkMetadata(value, file);
      continue;
    }
    entries.push(checkEntry(name, value, dataStart, file));
  }
  entries.sort((a, b) => a.offset - b.offset || a.byteLength - b.byteLength);
  let end = dataStart;
  for (const e of entries) {
    if (e.offset !== end) {
      const what = e.offset > end ? 'a hole before' : 'an overlap at';
      throw safetensorsError(file, 'offsets-not-contiguous', `${what} tensor ${JSON.stringify(e.name)}`, {
        tensor: e.name,
        expected: `begin ${end - dataStart}`,
        received: `begin ${e.offset - dataStart}`,
      });
    }
    end += e.byteLength;
  }
  if (end !== fileSize) {
    throw safetensorsError(file, 'data-size-mismatch', end < fileSize ? 'trailing bytes after the last tensor' : 'the file ends before the last tensor', {
      expected: `${end} bytes`,
      received: `${fileSize} bytes`,
    });
  }
  return { entries, byName: new Map(entries.map((e) => [e.name, e])), metadata, dataStart };
}

function checkMetadata(value: unknown, file: string): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw safetensorsError(file, 'metadata-invalid', '__metadata__ is not an object', { expected: 'an object of strings', received: describe(value) });
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') {
      throw safetensorsError(file, 'metadata-invalid', `__metadata__ value ${JSON.stringify(k)} is not a string`, { key: k, expected: 'string', received: describe(v) });
    }
    // defineProperty: a key of "__proto__" must be a plain entry, not a prototype swap.
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

const ENTRY_KEYS = ['data_offsets', 'dtype', 'shape'];

function checkEntry(name: string, value: unknown, dataStart: number, file: string): SafetensorsEntry {
  const at = `tensor ${JSON.stringify(name)}`;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw safetensorsError(file, 'entry-invalid', `${at} is not an object`, { tensor: name, expected: '{dtype, shape, data_offsets}', received: describe(value) });
  }
  const keys = Object.keys(value).sort();
  if (keys.length !== 3 || keys.some((k, i) => k !== ENTRY_KEYS[i])) {
    throw safetensorsError(file, 'entry-invalid', `${at} must have exactly dtype, shape and data_offsets`, { tensor: name, expected: ENTRY_KEYS.join(', '), received: keys.join(', ') });
  }
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (!isSafetensorsDType(dtype)) {
    throw safetensorsError(file, 'dtype-unknown', `${at} has an unknown dtype`, { tensor: name, expected: Object.keys(SAFETENSORS_DTYPE_BYTES).join(' | '), received: describe(dtype) });
  }
  if (!Array.isArray(shape) || !shape.every(isNonNegativeSafeInt)) {
    throw safetensorsError(file, 'shape-invalid', `${at} has an invalid shape`, { tensor: name, expected: 'an array of non-negative integers', received: describe(shape) });
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeSafeInt) || (offsets[0] as number) > (offsets[1] as number)) {
    throw safetensorsError(file, 'offsets-invalid', `${at} has invalid data_offsets`, { tensor: name, expected: '[begin, end] with 0 <= begin <= end', received: describe(offsets) });
  }
  // BigInt: a product of safe integers can pass 2^53 long before it overflows anything real.
  let bytes = BigInt(SAFETENSORS_DTYPE_BYTES[dtype]);
  for (const d of shape as number[]) bytes *= BigInt(d);
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw safetensorsError(file, 'size-overflow', `${at}: shape x dtype size overflows`, { tensor: name, expected: `at most ${Number.MAX_SAFE_INTEGER} bytes`, received: `[${(shape as number[]).join(', ')}] ${dtype}` });
  }
  const [begin, end] = offsets as [number, number];
  if (end - begin !== Number(bytes)) {
    throw safetensorsError(file, 'size-mismatch', `${at}: data_offsets span ${end - begin} bytes but [${(shape as number[]).join(', ')}] ${dtype} needs ${bytes}`, {
      tensor: name,
      expected: `${bytes} bytes`,
      received: `${end - begin} bytes`,
    });
  }
  return { name, dtype, shape: shape as number[], offset: dataStart + begin, byteLength: end - begin };
}

function isNonNegativeSafeInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

// Depth-capped: a header of 10,000 nested arrays must end in ERR_SAFETENSORS, not a stack overflow.
function describe(v: unknown, depth = 0): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return depth >= 2 ? '[...]' : `[${v.slice(0, 8).map((x) => describe(x, depth + 1)).join(', ')}${v.length > 8 ? ', ...' : ''}]`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (typeof v === 'object') return 'an object';
  return String(v);
}
