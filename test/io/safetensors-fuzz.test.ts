/**
 * Fuzzing the safetensors reader: 100,000+ seeded mutations of valid files (bit flips, byte
 * overwrites, truncations, extensions, splices of two files, length-field edits, and edits of the
 * header's JSON text re-encoded with a matching length) through the in-memory parser, and a sample
 * through real files and SafetensorsFile. Each case must either parse into a header whose tensors lie
 * inside the file, or be rejected with ERR_SAFETENSORS and a rule; anything else (another error, a
 * crash, a slow case) fails with the seed and case number to reproduce it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { isVit22bError } from '../../lib/runtime/errors';
import { parseSafetensors, SAFETENSORS_DTYPE_BYTES, SafetensorsFile, serializeSafetensors, type SafetensorsDType, type SafetensorsTensor } from '../../lib/io/safetensors';
import { mulberry32, randInt, type Rng } from '../helpers/prng';

const CASES = 200_000;
const FILE_SAMPLE = 2_000;
const SEED = 20261124;

const DTYPES = Object.keys(SAFETENSORS_DTYPE_BYTES) as SafetensorsDType[];

function validFile(rng: Rng): Uint8Array {
  const tensors: Record<string, SafetensorsTensor> = {};
  const count = randInt(rng, 0, 5);
  for (let i = 0; i < count; ++i) {
    const dtype = DTYPES[randInt(rng, 0, DTYPES.length - 1)]!;
    const shape = Array.from({ length: randInt(rng, 0, 3) }, () => randInt(rng, 0, 4));
    const data = new Uint8Array(shape.reduce((a, d) => a * d, 1) * SAFETENSORS_DTYPE_BYTES[dtype]);
    for (let j = 0; j < data.length; ++j) data[j] = randInt(rng, 0, 255);
    tensors[`layer${i}.${['w', 'b', '__metadata_', 'ü'][randInt(rng, 0, 3)]}`] = { dtype, shape, data };
  }
  return serializeSafetensors(tensors, rng() < 0.5 ? { format: 'pt', n: String(count) } : undefined);
}

function headerText(bytes: Uint8Array): { text: string; end: number } | undefined {
  if (bytes.length < 8) return undefined;
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  if (8 + n > bytes.length) return undefined;
  return { text: new TextDecoder().decode(bytes.subarray(8, 8 + n)), end: 8 + n };
}

/** Rebuilds a file from header text and data, with a correct length field. */
function withHeader(text: string, data: Uint8Array): Uint8Array {
  const h = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

const TOKENS = ['{', '}', '[', ']', ',', ':', '"', '\\', '0', '-1', '1e400', '9007199254740993', '1.5', 'null', 'true', '"F32"', '"BOOL"', '"__metadata__"', '"dtype"', '"shape"', '"data_offsets"', '\\u0000', '\ud800', ' ', '[0,0]', '{}', '"a":1'];

function mutateText(rng: Rng, text: string): string {
  const at = randInt(rng, 0, text.length);
  const len = randInt(rng, 0, 6);
  switch (randInt(rng, 0, 5)) {
    case 0: // delete a span
      return text.slice(0, at) + text.slice(at + len);
    case 1: // insert a token
      return text.slice(0, at) + TOKENS[randInt(rng, 0, TOKENS.length - 1)] + text.slice(at);
    case 2: { // change a number
      const nums = [...text.matchAll(/\d+/g)];
      if (nums.length === 0) return text;
      const m = nums[randInt(rng, 0, nums.length - 1)]!;
      const repl = ['0', '1', '7', '4294967296', '18446744073709551616', '-3', String(randInt(rng, 0, 100)), '1e3'][randInt(rng, 0, 7)]!;
      return text.slice(0, m.index) + repl + text.slice(m.index! + m[0].length);
    }
    case 3: { // duplicate an entry's text (often a duplicate key)
      const m = /"[^"]*":\{[^}]*\}/.exec(text);
      if (!m) return text;
      return text.slice(0, m.index) + m[0] + ',' + text.slice(m.index);
    }
    case 4: // swap a dtype
      return text.replace(/"dtype":"[A-Z0-9_]+"/, `"dtype":"${[...DTYPES, 'F4', 'f32', 'Q8'][randInt(rng, 0, DTYPES.length + 2)]}"`);
    default: // a span copied elsewhere
      return text.slice(0, at) + text.slice(randInt(rng, 0, text.length), randInt(rng, 0, text.length)) + text.slice(at);
  }
}

function mutate(rng: Rng, a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a);
  switch (randInt(rng, 0, 8)) {
    case 0: { // flip bits
      const k = randInt(rng, 1, 4);
      for (let i = 0; i < k && out.length > 0; ++i) out[randInt(rng, 0, out.length - 1)]! ^= 1 << randInt(rng, 0, 7);
      return out;
    }
    case 1: // overwrite a byte
      if (out.length > 0) out[randInt(rng, 0, out.length - 1)] = randInt(rng, 0, 255);
      return out;
    case 2: // truncate
      return out.subarray(0, randInt(rng, 0, Math.max(0, out.length - 1)));
    case 3: { // extend with junk
      const ext = new Uint8Array(out.length + randInt(rng, 1, 16));
      ext.set(out);
      return ext;
    }
    case 4: { // splice: a's start with b's end
      const cut = randInt(rng, 0, Math.min(a.length, b.length));
      const s = new Uint8Array(cut + b.length - randInt(rng, 0, cut));
      s.set(a.subarray(0, cut));
      s.set(b.subarray(b.length - (s.length - cut)), cut);
      return s;
    }
    case 5: { // length field edits
      const dv = new DataView(out.buffer);
      if (out.length < 8) return out;
      const v = [0n, 1n, 7n, BigInt(out.length), BigInt(out.length - 8), 2n ** 63n, 2n ** 64n - 1n, 100_000_001n, dv.getBigUint64(0, true) + BigInt(randInt(rng, -9, 9))][randInt(rng, 0, 8)]!;
      dv.setBigUint64(0, BigInt.asUintN(64, v), true);
      return out;
    }
    default: { // edit the header text and re-encode with a matching length, one to three times
      const h = headerText(out);
      if (!h) return out;
      let text = h.text;
      for (let k = randInt(rng, 1, 3); k > 0; --k) text = mutateText(rng, text);
      return withHeader(text, out.subarray(h.end));
    }
  }
}

/** Either a header whose tensors lie in the file, or ERR_SAFETENSORS with a rule; throws otherwise. */
function check(bytes: Uint8Array, label: string): 'ok' | string {
  try {
    const h = parseSafetensors(bytes, label);
    for (const e of h.entries) if (e.offset < h.dataStart || e.offset + e.byteLength > bytes.length) throw new Error(`${label}: tensor ${e.name} outside the file`);
    return 'ok';
  } catch (e) {
    // A typed rejection names its rule and file, and says what was expected and what was found.
    if (isVit22bError(e, 'ERR_SAFETENSORS') && typeof e.details.rule === 'string' && e.details.file === label) {
      if (typeof e.expected !== 'string' || typeof e.received !== 'string') throw new Error(`${label}: rule ${e.details.rule} lacks expected/received: ${e.message}`);
      return e.details.rule;
    }
    throw new Error(`${label}: not a typed rejection: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  }
}

test(`${CASES} mutated files in memory, ${FILE_SAMPLE} of them through real files: typed rejections only, bounded time`, () => {
  const rng = mulberry32(SEED);
  const pool = Array.from({ length: 64 }, () => validFile(rng));
  const rules = new Map<string, number>();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-fuzz-'));
  const t0 = performance.now();
  let slowest = 0;
  try {
    for (let i = 0; i < CASES; ++i) {
      let bytes = pool[randInt(rng, 0, pool.length - 1)]!;
      for (let k = randInt(rng, 1, 2); k > 0; --k) bytes = mutate(rng, bytes, pool[randInt(rng, 0, pool.length - 1)]!);
      const c0 = performance.now();
      const r = check(bytes, `case-${SEED}-${i}`);
      slowest = Math.max(slowest, performance.now() - c0);
      rules.set(r, (rules.get(r) ?? 0) + 1);
      if (i % (CASES / FILE_SAMPLE) === 0) {
        const file = path.join(tmp, `case-${SEED}-${i}`);
        fs.writeFileSync(file, bytes);
        try {
          using f = SafetensorsFile.open(file);
          for (const n of f.names()) expect(f.read(n).length).toBe(f.entry(n).byteLength);
          expect(r).toBe('ok');
        } catch (e) {
          if (!isVit22bError(e, 'ERR_SAFETENSORS')) throw e;
          expect(e.details).toMatchObject({ file, rule: r });
        }
        fs.rmSync(file);
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const seconds = (performance.now() - t0) / 1e3;
  console.log(`safetensors fuzz: ${CASES} cases in ${seconds.toFixed(1)} s (slowest ${slowest.toFixed(1)} ms); outcomes ${JSON.stringify(Object.fromEntries([...rules].sort((a, b) => b[1] - a[1])))}`);
  // The mutations must reach deep rules, not stop at the length field: most rules are seen, and some cases still parse.
  expect(rules.get('ok') ?? 0).toBeGreaterThan(100);
  expect(rules.size).toBeGreaterThanOrEqual(14);
  expect(slowest).toBeLessThan(1000);
  expect(seconds).toBeLessThan(60);
});
