/**
 * Fuzzing every parser we own besides safetensors (test/io/safetensors-fuzz.test.ts): IDX,
 * checkpoint manifest.json, trainer.json (and the resume checks on its state) and model config JSON.
 * Seeded mutations of valid inputs (byte flips, splices, truncations, token insertions) plus depth
 * and size extremes (100,000-deep arrays, huge numbers and lengths, prototype keys), each parser for
 * a bounded time. Every case must parse or be a Vit22bError of the parser's code; another error, a
 * crash or a hang fails with the seed and case number.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { resolveModel } from '../../lib/cli/model-option';
import { parseIdx, IDX_DTYPE_CODE, readIdx } from '../../lib/data/idx';
import { readManifest, verifyCheckpointFiles } from '../../lib/io/checkpoint-manifest';
import { readTrainerJson } from '../../lib/io/checkpoint';
import { parseSafetensors } from '../../lib/io/safetensors';
import { getPreset, validateConfig } from '../../lib/model';
import { Vit22bError } from '../../lib/runtime/errors';
import { checkResumeState, type TrainerCheckpointState } from '../../lib/train/trainer-checkpoint';
import { mulberry32, randInt, type Rng } from '../helpers/prng';

const SEED = 20261205;
/** Per parser: stop at this many cases or this many milliseconds, whichever comes first. */
const MAX_CASES = 20_000;
const BUDGET_MS = 2_500;

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-fuzz-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Runs cases until the budget; each must return or throw a Vit22bError with one of `codes`. */
function fuzz(name: string, codes: string[], makeCase: (rng: Rng, i: number) => () => unknown): void {
  const rng = mulberry32(SEED);
  const t0 = Date.now();
  const outcomes: Record<string, number> = {};
  let i = 0;
  for (; i < MAX_CASES && Date.now() - t0 < BUDGET_MS; ++i) {
    const run = makeCase(rng, i);
    try {
      run();
      outcomes.ok = (outcomes.ok ?? 0) + 1;
    } catch (e) {
      if (!(e instanceof Vit22bError) || !codes.includes(e.code)) {
        throw new Error(`${name}: case ${i} (seed ${SEED}) threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
      }
      // Every rejection says what was expected and what was found.
      if (typeof e.expected !== 'string' || typeof e.received !== 'string') {
        throw new Error(`${name}: case ${i} (seed ${SEED}): ${e.code} ${String(e.details.rule ?? e.details.reason)} lacks expected/received: ${e.message}`);
      }
      const rule = String(e.details.rule ?? e.details.reason ?? e.code);
      outcomes[rule] = (outcomes[rule] ?? 0) + 1;
    }
  }
  console.log(`${name} fuzz: ${i} cases in ${Date.now() - t0} ms; outcomes ${JSON.stringify(outcomes)}`);
  expect(i).toBeGreaterThan(100);
}

// ---- mutations shared by the text formats ----

const TOKENS = ['{', '}', '[', ']', ',', ':', '"', '\\', '0', '-1', '1e400', '-0', '9007199254740993', '1.5', '1e-300', 'null', 'true', '""', '"__proto__"', '"constructor"', '{"__proto__":1}', '[]', '{}', '\ud800', ' ', '"a":1', '"x".repeat'];

function mutateText(rng: Rng, text: string): string {
  const at = randInt(rng, 0, text.length);
  const len = randInt(rng, 0, 8);
  // The extremes (cases 5 and 6) are slow to write and parse: drawn 1 time in 8 each.
  const k = randInt(rng, 0, 15);
  switch (k === 14 ? 5 : k === 15 ? 6 : k % 5) {
    case 0:
      return text.slice(0, at) + text.slice(at + len);
    case 1:
      return text.slice(0, at) + TOKENS[randInt(rng, 0, TOKENS.length - 1)] + text.slice(at);
    case 2:
      return text.slice(0, at) + TOKENS[randInt(rng, 0, TOKENS.length - 1)] + text.slice(at + len);
    case 3:
      return text.slice(0, at);
    case 4: {
      // Replace a number with an extreme one.
      const extremes = ['0', '-1', '1e308', '-1e308', '4294967296', '9007199254740993', '1e-320', '0.5', '2147483648'];
      return text.replace(/-?\d+(\.\d+)?(e-?\d+)?/, () => extremes[randInt(rng, 0, extremes.length - 1)]!);
    }
    case 5: {
      // Depth extreme: a value replaced by a very deep array or object.
      const depth = [100, 10_000, 100_000][randInt(rng, 0, 2)]!;
      const deep = rng() < 0.5 ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
      return text.replace(/:\s*[^,{}[\]]+/, `: ${deep}`);
    }
    default: {
      // Size extreme: a very long string or array.
      const big = rng() < 0.5 ? `"${'x'.repeat(1 << 20)}"` : `[${Array(100_000).fill(0).join(',')}]`;
      return text.replace(/:\s*[^,{}[\]]+/, `: ${big}`);
    }
  }
}

function mutateTextMany(rng: Rng, text: string): string {
  let t = text;
  for (let k = randInt(rng, 1, 3); k > 0; --k) t = mutateText(rng, t);
  return t;
}

// ---- IDX ----

function validIdx(rng: Rng): Uint8Array {
  const dtypes = Object.keys(IDX_DTYPE_CODE) as (keyof typeof IDX_DTYPE_CODE)[];
  const dtype = dtypes[randInt(rng, 0, dtypes.length - 1)]!;
  const size = { u8: 1, i8: 1, i16: 2, i32: 4, f32: 4, f64: 8 }[dtype];
  const shape = Array.from({ length: randInt(rng, 0, 3) }, () => randInt(rng, 0, 5));
  const count = shape.reduce((a, d) => a * d, 1);
  const out = new Uint8Array(4 + 4 * shape.length + count * size);
  const view = new DataView(out.buffer);
  out[2] = IDX_DTYPE_CODE[dtype];
  out[3] = shape.length;
  shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  for (let i = 4 + 4 * shape.length; i < out.length; ++i) out[i] = randInt(rng, 0, 255);
  return out;
}

function mutateBytes(rng: Rng, b: Uint8Array): Uint8Array {
  const out = Uint8Array.from(b);
  switch (randInt(rng, 0, 4)) {
    case 0:
      if (out.length) out[randInt(rng, 0, out.length - 1)]! ^= 1 << randInt(rng, 0, 7);
      return out;
    case 1:
      return out.subarray(0, randInt(rng, 0, out.length));
    case 2: {
      const more = new Uint8Array(out.length + randInt(rng, 1, 16));
      more.set(out);
      return more;
    }
    case 3: {
      // Size extremes in the header: the rank byte and dimensions.
      if (out.length >= 4) out[3] = [0, 1, 4, 255][randInt(rng, 0, 3)]!;
      if (out.length >= 8) new DataView(out.buffer).setUint32(4, [0, 1, 0x7fffffff, 0xffffffff][randInt(rng, 0, 3)]!, false);
      return out;
    }
    default:
      if (out.length) out[randInt(rng, 0, Math.min(3, out.length - 1))] = randInt(rng, 0, 255);
      return out;
  }
}

test('IDX: parseIdx on mutated files, and readIdx on real files (some gzipped)', () => {
  fuzz('idx', ['ERR_DATA_CORRUPT'], (rng) => {
    const bytes = mutateBytes(rng, validIdx(rng));
    return () => {
      const r = parseIdx(bytes);
      expect(r.data.length).toBe(r.shape.reduce((a, d) => a * d, 1));
    };
  });
  const file = path.join(tmp, 'f.idx');
  fuzz('idx file', ['ERR_DATA_CORRUPT', 'ERR_DATA_NOT_FOUND'], (rng, i) => {
    let bytes: Uint8Array = mutateBytes(rng, validIdx(rng));
    if (i % 2) bytes = mutateBytes(rng, require('node:zlib').gzipSync(bytes) as Uint8Array);
    fs.writeFileSync(file, bytes);
    return () => readIdx(file);
  });
});

// ---- safetensors: the depth extreme that overflowed the stack in the error path ----

test('safetensors header nested 10,000 to 1,000,000 deep: ERR_SAFETENSORS, not a stack overflow', () => {
  for (const depth of [10_000, 1_000_000]) {
    for (const value of ['['.repeat(depth) + ']'.repeat(depth), '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)]) {
      const h = Buffer.from(`{"t":${value}}`);
      const b = Buffer.alloc(8 + h.length);
      b.writeBigUInt64LE(BigInt(h.length));
      h.copy(b, 8);
      let e: unknown;
      try {
        parseSafetensors(b);
      } catch (x) {
        e = x;
      }
      expect(e).toBeInstanceOf(Vit22bError);
      expect(e).toMatchObject({ code: 'ERR_SAFETENSORS', details: { rule: 'entry-invalid' } });
    }
  }
});

// ---- manifest.json ----

test('manifest.json: readManifest then verifyCheckpointFiles on mutated manifests', () => {
  const dir = path.join(tmp, 'ckpt');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'model.safetensors'), 'abc');
  const valid = JSON.stringify(
    {
      format: 'vit22b-checkpoint',
      version: 1,
      step: 12,
      worldSize: 1,
      files: [
        { name: 'model.safetensors', bytes: 3, sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad' },
        { name: 'trainer.json', bytes: 10, sha256: '0'.repeat(64) },
      ],
    },
    null,
    2,
  );
  fuzz('manifest', ['ERR_CHECKPOINT'], (rng) => {
    const text = mutateTextMany(rng, valid);
    fs.writeFileSync(path.join(dir, 'manifest.json'), text);
    return () => {
      const m = readManifest(dir);
      verifyCheckpointFiles(dir, m);
    };
  });
});

// ---- trainer.json ----

const CURRENT: TrainerCheckpointState = {
  step: 0,
  updates: 0,
  skipped: 0,
  dataStep: 0,
  seed: 3,
  batch: 8,
  accumulation: 1,
  totalSteps: 20,
  optimizer: { kind: 'adamw', weightDecay: 0.0001 },
  schedule: { kind: 'cosine', lr: 0.01, warmup: 1 },
  precision: 'fp32',
  clipNorm: 1,
  modelConfig: { toy: true },
};

test('trainer.json: readTrainerJson and the resume checks on mutated files', () => {
  const dir = path.join(tmp, 'trainer');
  fs.mkdirSync(dir);
  const valid = JSON.stringify({ format: 'vit22b-checkpoint', version: 1, step: 10, config: { toy: true }, trainerState: { ...CURRENT, step: 10, updates: 9, skipped: 1, dataStep: 10 } }, null, 2);
  fuzz('trainer.json', ['ERR_CHECKPOINT'], (rng) => {
    const text = mutateTextMany(rng, valid);
    fs.writeFileSync(path.join(dir, 'trainer.json'), text);
    return () => {
      const t = readTrainerJson(dir);
      checkResumeState(path.join(dir, 'trainer.json'), t.trainerState, CURRENT, t.step);
    };
  });
});

// ---- model config JSON ----

test('model config JSON: --config files (whole configs and preset + overrides) and validateConfig on parsed values', () => {
  const file = path.join(tmp, 'config.json');
  const whole = JSON.stringify(getPreset('tiny'), null, 2);
  const overrides = JSON.stringify({ preset: 'tiny', depth: 2, normEps: 1e-6 }, null, 2);
  fuzz('config file', ['ERR_INVALID_CONFIG'], (rng) => {
    const text = mutateTextMany(rng, rng() < 0.5 ? whole : overrides);
    fs.writeFileSync(file, text);
    return () => resolveModel(undefined, file);
  });
  fuzz('validateConfig', ['ERR_INVALID_CONFIG'], (rng) => {
    let value: unknown;
    try {
      value = JSON.parse(mutateTextMany(rng, whole));
    } catch {
      value = [null, 1, 'x', [], {}][randInt(rng, 0, 4)];
    }
    return () => validateConfig(value);
  });
});
