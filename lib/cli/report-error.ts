import { Vit22bError } from '../runtime/errors';
import type { CliIO } from './io';

/** Prints an error the way users should see it: code, message, expected and received. */
export function reportError(io: CliIO, e: unknown, json: boolean): number {
  const err = e instanceof Error ? e : new Error(String(e));
  const code = (err as { code?: string }).code ?? 'ERR_INTERNAL';
  if (json) {
    const body: Record<string, unknown> = { error: { code, message: err.message } };
    if (err instanceof Vit22bError) Object.assign(body.error as object, err.details);
    io.out(JSON.stringify(body, null, 2) + '\n');
  } else {
    let text = `vit22b: ${code}: ${err.message}\n`;
    if (err instanceof Vit22bError) {
      if (err.expected !== undefined) text += `  expected: ${err.expected}\n`;
      if (err.received !== undefined) text += `  received: ${err.received}\n`;
    }
    if (!(err instanceof Vit22bError)) text += `${err.stack ?? ''}\n`;
    io.err(text);
  }
  return code === 'ERR_USAGE' ? 2 : 1;
}
