// Vit22bError and isVit22bError (lib/runtime/errors.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { ERROR_CODES, isVit22bError, Vit22bError } from '../../lib/runtime/errors';
import { REPO_ROOT } from '../helpers/paths';

describe('Vit22bError', () => {
  test('carries code, message, expected, received and the whole details object', () => {
    const details = { expected: 'f32 or bf16', received: 'i32', searched: ['/a', '/b'], reason: 'no-driver' };
    const e = new Vit22bError('ERR_DTYPE_MISMATCH', 'axpby supports f32 and bf16', details);
    expect(e.code).toBe('ERR_DTYPE_MISMATCH');
    expect(e.message).toBe('axpby supports f32 and bf16');
    expect(e.expected).toBe('f32 or bf16');
    expect(e.received).toBe('i32');
    expect(e.details).toBe(details);
    expect(e.details.searched).toEqual(['/a', '/b']);
    expect(e.details.reason).toBe('no-driver');
  });

  test('is a real Error: instanceof, name, stack', () => {
    const e = new Vit22bError('ERR_USAGE', 'bad flag');
    expect(e).toBeInstanceOf(Error);
    expect(e).toBeInstanceOf(Vit22bError);
    expect(e.name).toBe('Vit22bError');
    expect(String(e)).toBe('Vit22bError: bad flag');
    expect(e.stack).toContain('bad flag');
    expect(e.stack).toContain('errors.test.ts');
  });

  test('without details: empty details, no expected or received', () => {
    const e = new Vit22bError('ERR_INTERNAL', 'oops');
    expect(e.details).toEqual({});
    expect(e.expected).toBeUndefined();
    expect(e.received).toBeUndefined();
  });

  test('details with only one side set only that side', () => {
    const e = new Vit22bError('ERR_SHAPE_MISMATCH', 'sizes', { received: '3 elements' });
    expect(e.expected).toBeUndefined();
    expect(e.received).toBe('3 elements');
  });

  test('is caught by code in a try/catch like users write it', () => {
    const fail = (): never => {
      throw new Vit22bError('ERR_DISPOSED', 'gone', { expected: 'a live buffer', received: 'disposed buffer' });
    };
    let caught: unknown;
    try {
      fail();
    } catch (e) {
      caught = e;
    }
    expect(isVit22bError(caught, 'ERR_DISPOSED')).toBe(true);
    expect(caught).toMatchObject({ code: 'ERR_DISPOSED', expected: 'a live buffer', received: 'disposed buffer' });
  });
});

describe('isVit22bError', () => {
  const e = new Vit22bError('ERR_CUDA_UNAVAILABLE', 'no GPU');

  test('true for a Vit22bError, with or without a matching code', () => {
    expect(isVit22bError(e)).toBe(true);
    expect(isVit22bError(e, 'ERR_CUDA_UNAVAILABLE')).toBe(true);
  });

  test('false for another code', () => {
    expect(isVit22bError(e, 'ERR_CUDA')).toBe(false);
  });

  test('false for look-alikes and non-errors', () => {
    const plain = Object.assign(new Error('no GPU'), { code: 'ERR_CUDA_UNAVAILABLE' });
    expect(isVit22bError(plain)).toBe(false);
    expect(isVit22bError({ code: 'ERR_CUDA_UNAVAILABLE', name: 'Vit22bError', message: 'x' })).toBe(false);
    for (const v of [undefined, null, 0, 'ERR_CUDA_UNAVAILABLE', new TypeError('x')]) expect(isVit22bError(v)).toBe(false);
  });
});

describe('ERROR_CODES', () => {
  test('has no duplicates and every code is ERR_ upper snake case', () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    for (const c of ERROR_CODES) expect(c).toMatch(/^ERR_[A-Z0-9]+(_[A-Z0-9]+)*$/);
  });

  test('includes every code native code can raise (native/core/status.h)', () => {
    // The native list is the public contract the addon throws with; read it from the header.
    const header = fs.readFileSync(path.join(REPO_ROOT, 'native', 'core', 'status.h'), 'utf8');
    const nativeCodes = [...header.matchAll(/X\(\w+,\s*"(ERR_[A-Z_]+)"\)/g)].map((m) => m[1]!);
    expect(nativeCodes.length).toBeGreaterThanOrEqual(10);
    for (const c of nativeCodes) expect(ERROR_CODES).toContain(c);
  });
});
