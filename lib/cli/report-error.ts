import { ioError, isSystemError } from '../io/output-path';
import { Vit22bError } from '../runtime/errors';
import type { CliIO } from './io';

/**
 * Every error as a Vit22bError: a file-system error that escaped a typed check becomes ERR_IO naming
 * its path; anything else (a bug of ours) ERR_INTERNAL, its stack kept in details for VIT22B_DEBUG.
 */
function typed(e: unknown): Vit22bError {
  if (e instanceof Vit22bError) return e;
  if (isSystemError(e)) return ioError(e, e.path ?? (e as { dest?: string }).dest ?? '(unknown path)', e.syscall ?? 'access');
  const err = e instanceof Error ? e : new Error(String(e));
  const code = (err as { code?: unknown }).code;
  return new Vit22bError('ERR_INTERNAL', `${err.name}: ${err.message}`, { cause: typeof code === 'string' ? code : undefined, stack: err.stack });
}

/** Prints an error the way users should see it: code, message, expected and received. */
export function reportError(io: CliIO, e: unknown, json: boolean): number {
  const err = typed(e);
  const code = (err as { code?: string }).code ?? 'ERR_INTERNAL';
  if (json) {
    const body: Record<string, unknown> = { error: { code, message: err.message } };
    const { stack, ...details } = err.details;
    Object.assign(body.error as object, details, process.env.VIT22B_DEBUG && stack !== undefined ? { stack } : {});
    io.out(JSON.stringify(body, null, 2) + '\n');
  } else {
    let text = `vit22b: ${code}: ${err.message}\n`;
    if (err instanceof Vit22bError) {
      if (err.expected !== undefined) text += `  expected: ${err.expected}\n`;
      if (err.received !== undefined) text += `  received: ${err.received}\n`;
    }
    // A stack trace helps only us: shown for an internal error when VIT22B_DEBUG is set.
    if (process.env.VIT22B_DEBUG && err.details.stack !== undefined) text += `${String(err.details.stack)}\n`;
    io.err(text);
  }
  return code === 'ERR_USAGE' ? 2 : 1;
}
