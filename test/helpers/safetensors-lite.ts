/**
 * A minimal safetensors reader and writer for tests only (F32, F64, I32; whole file in memory; no
 * validation beyond what a test needs). The library's own, validating implementation is lib/io
 * (branch io); this file exists so the interop tests do not wait for it.
 */
import * as fs from 'node:fs';

export type LiteArray = Float32Array | Float64Array | Int32Array;
export interface LiteTensor {
  shape: number[];
  data: LiteArray;
}

const CTORS = { F32: Float32Array, F64: Float64Array, I32: Int32Array } as const;
type LiteDtype = keyof typeof CTORS;

export function readSafetensors(file: string): Map<string, LiteTensor> {
  const buf = fs.readFileSync(file);
  const headerLen = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const base = 8 + headerLen;
  const out = new Map<string, LiteTensor>();
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const Ctor = CTORS[e.dtype as LiteDtype];
    if (!Ctor) throw new Error(`safetensors-lite: ${file}: ${name} has dtype ${e.dtype}, not one of F32, F64, I32`);
    const [from, to] = e.data_offsets;
    // Copy into a fresh, aligned buffer.
    const bytes = new Uint8Array(to - from);
    bytes.set(buf.subarray(base + from, base + to));
    out.set(name, { shape: e.shape, data: new Ctor(bytes.buffer) });
  }
  return out;
}

function dtypeOf(a: LiteArray): LiteDtype {
  if (a instanceof Float32Array) return 'F32';
  if (a instanceof Float64Array) return 'F64';
  return 'I32';
}

export function writeSafetensors(file: string, tensors: Map<string, LiteTensor>): void {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, t] of tensors) {
    header[name] = { dtype: dtypeOf(t.data), shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const parts = [head, Buffer.from(json, 'utf8'), ...[...tensors.values()].map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))];
  fs.writeFileSync(file, Buffer.concat(parts));
}
