// Issue 20 through the command line, in-process: bad outputs (a file as --out, /proc, /sys, a full
// disk, a folder as --output), non-regular checkpoint files and mismatched image-folder classes each
// end in a typed error (code, expected, received, the path) with no stack trace, and before the work.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { ioError } from '../../lib/io/output-path';
import { cli } from '../helpers/cli-run';
import { DIST_CLI } from '../helpers/paths';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-cli-hard-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const BASE = ['train', '--steps', '2', '--batch', '8', '--progress', 'none'];

/** A typed CLI failure: exit 1, the code, expected/received lines, no stack trace. */
function expectTyped(r: { code: number; out: string; err: string }, code: string, mention: string): void {
  expect(r.code).toBe(1);
  expect(r.err).toContain(`vit22b: ${code}: `);
  expect(r.err).toContain(mention);
  expect(r.err).toMatch(/\n {2}expected: .*\n {2}received: /);
  expect(r.err).not.toMatch(/\n\s+at /); // no stack frames
}

test('--out or --checkpoint-dir naming a file: ERR_IO naming it, before the data is even looked for', async () => {
  const file = path.join(tmp, 'a-file');
  fs.writeFileSync(file, 'x');
  for (const flag of ['--out', '--checkpoint-dir']) {
    const r = await cli([...BASE, '--data', path.join(tmp, 'no-such-data'), flag, file]);
    expectTyped(r, 'ERR_IO', file);
    expect(r.err).toContain('received: ENOTDIR');
  }
});

test('a crash outside run() (an unhandled rejection) is still a typed report without a stack, exit 1', () => {
  const r = require('node:child_process').spawnSync(process.execPath, ['-e', `process.argv.push('--json'); require(${JSON.stringify(DIST_CLI)}); Promise.reject(new TypeError('boom'));`, '--', 'info'], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status).toBe(1);
  expect(r.stdout + r.stderr).toContain('ERR_INTERNAL');
  expect(r.stdout + r.stderr).not.toMatch(/\n\s+at /);
});

test('--out under /proc and /sys: ERR_IO, no endless loop', async () => {
  for (const out of ['/proc/vit22b-hardening-test/run', '/sys/vit22b-hardening-test']) {
    const r = await cli([...BASE, '--out', out]);
    expectTyped(r, 'ERR_IO', 'vit22b-hardening-test');
  }
});

test('a full disk (metrics.jsonl is /dev/full): ERR_IO ENOSPC naming the file', async () => {
  const out = path.join(tmp, 'full');
  fs.mkdirSync(out);
  fs.symlinkSync('/dev/full', path.join(out, 'metrics.jsonl'));
  const r = await cli([...BASE, '--out', out]);
  expectTyped(r, 'ERR_IO', path.join(out, 'metrics.jsonl'));
  expect(r.err).toContain('received: ENOSPC');
});

test('a read-only file system and other system codes get advice and stay typed', () => {
  const e = ioError(Object.assign(new Error('x'), { code: 'EROFS', syscall: 'open' }), '/ro/out', 'write');
  expect(e).toMatchObject({ code: 'ERR_IO', received: 'EROFS', details: { file: '/ro/out', syscall: 'open' } });
  expect(e.message).toContain('read-only');
});

test('predict --output naming a folder: ERR_IO EISDIR before the weights are even read', async () => {
  const config = path.join(tmp, 'cfg.json');
  fs.writeFileSync(config, JSON.stringify({ preset: 'tiny' }));
  const r = await cli(['predict', '--config', config, '--weights', path.join(tmp, 'missing.safetensors'), '--input', path.join(tmp, 'missing-input.safetensors'), '--output', tmp]);
  expectTyped(r, 'ERR_IO', tmp);
  expect(r.err).toContain('received: EISDIR');
});

describe('checkpoints', () => {
  let ckpt: string;
  beforeAll(async () => {
    ckpt = path.join(tmp, 'ckpt');
    const r = await cli([...BASE, '--save-every', '2', '--checkpoint-dir', ckpt]);
    expect(r.code).toBe(0);
  });

  test('eval --checkpoint and train --resume with model.safetensors linked to /dev/zero: typed, no hang', async () => {
    const copy = path.join(tmp, 'zero-ckpt');
    fs.cpSync(ckpt, copy, { recursive: true });
    const model = path.join(copy, 'step-2', 'model.safetensors');
    fs.rmSync(model);
    fs.symlinkSync('/dev/zero', model);
    const e = await cli(['eval', '--checkpoint', path.join(copy, 'step-2'), '--batch', '8']);
    expectTyped(e, 'ERR_CHECKPOINT', model);
    expect(e.err).toContain('character device');
    // Given the directory, the only checkpoint is passed over (said on stderr) and none is left.
    const r = await cli([...BASE, '--resume', copy, '--save-every', '2']);
    expectTyped(r, 'ERR_CHECKPOINT', 'no committed checkpoint');
  });

  test('a second writer into a checkpoint directory held by a live run: ERR_CHECKPOINT locked, before training', async () => {
    const dir = path.join(tmp, 'locked');
    fs.mkdirSync(dir);
    // Our parent (jest's runner, or the shell) is alive on this host: it plays the other run.
    fs.writeFileSync(path.join(dir, '.lock'), JSON.stringify({ pid: process.ppid, hostname: os.hostname(), startedAt: new Date().toISOString(), token: 't' }));
    const r = await cli([...BASE, '--save-every', '1', '--keep', '1', '--checkpoint-dir', dir, '--out', path.join(tmp, 'locked-out')]);
    expectTyped(r, 'ERR_CHECKPOINT', 'another run is writing checkpoints here');
    expect(fs.readdirSync(dir)).toEqual(['.lock']);
    // Refused before the first step: metrics.jsonl, if begun, has no step.
    const log = path.join(tmp, 'locked-out', 'metrics.jsonl');
    expect(fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '').not.toContain('"type":"step"');
  });
});

describe('image folders whose test classes differ from the training classes', () => {
  function folder(train: string[], test: string[]): string {
    const root = fs.mkdtempSync(path.join(tmp, 'img-'));
    for (const [split, classes] of [['train', train], ['test', test]] as const) {
      for (const c of classes) {
        fs.mkdirSync(path.join(root, split, c), { recursive: true });
        // Not images at all: the classes are compared before anything is decoded.
        fs.writeFileSync(path.join(root, split, c, '0.png'), 'not a png');
      }
    }
    return root;
  }

  test.each([
    ['relabelled: train/{a,b}, test/{a,c}', ['a', 'b'], ['a', 'c'], 'c only in the test set'],
    ['an extra test class', ['a', 'b'], ['a', 'b', 'c'], 'c only in the test set'],
    ['a missing test class', ['a', 'b', 'c'], ['a', 'b'], 'c missing from the test set'],
  ])('%s: ERR_DATA_CORRUPT class-mismatch up front', async (_what, train, test, says) => {
    const root = folder(train, test);
    const r = await cli([...BASE, '--data', root, '--json']);
    expect(r.code).toBe(1);
    const body = JSON.parse(r.out) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({ code: 'ERR_DATA_CORRUPT', reason: 'class-mismatch', file: path.join(root, 'test'), expected: train.join(', '), received: test.join(', ') });
    expect(String(body.error.message)).toContain(says);
  });

  test('a FIFO named x.png: ERR_DATA_CORRUPT naming it, no hang', async () => {
    const root = folder(['a'], ['a']);
    fs.rmSync(path.join(root, 'train', 'a', '0.png'));
    execFileSync('mkfifo', [path.join(root, 'train', 'a', 'x.png')]);
    const r = await cli([...BASE, '--data', root]);
    expectTyped(r, 'ERR_DATA_CORRUPT', path.join(root, 'train', 'a', 'x.png'));
  });
});
