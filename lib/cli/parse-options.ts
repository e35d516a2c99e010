import { parseArgs } from 'node:util';

import { Vit22bError } from '../runtime/errors';

export function usageError(message: string, usage: string, received: string): Vit22bError {
  return new Vit22bError('ERR_USAGE', `${message}\n\n${usage}`, { expected: usage.split('\n')[0], received });
}

/** util.parseArgs with its errors turned into ERR_USAGE and the usage text. */
export function parseOptions<T extends NonNullable<Parameters<typeof parseArgs>[0]>['options']>(
  args: string[],
  options: T,
  usage: string,
): ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: false }>>['values'] {
  try {
    return parseArgs({ args, options, allowPositionals: false, strict: true }).values;
  } catch (e) {
    throw usageError((e as Error).message, usage, args.join(' '));
  }
}

