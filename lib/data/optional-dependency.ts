/**
 * Loading an optional peer dependency (sharp, for image folders) only when a feature needs it, so
 * that everyone else installs and loads vit22b without it, and whoever needs it is told exactly
 * what to install.
 */
import { createRequire } from 'node:module';

import { Vit22bError } from '../runtime/errors';

// Resolves from this module's own location (inside node_modules/vit22b once installed), which finds
// the application's node_modules above it; works from the CommonJS and the ESM build alike
// (tsup defines __filename in the ESM build).
const requireHere = createRequire(__filename);

/** True when a resolution error is about `name` itself, not about something `name` requires. */
function isMissing(e: unknown, name: string): boolean {
  const err = e as NodeJS.ErrnoException;
  return (
    (err?.code === 'MODULE_NOT_FOUND' || err?.code === 'ERR_MODULE_NOT_FOUND') &&
    typeof err.message === 'string' &&
    (err.message.includes(`'${name}'`) || err.message.includes(`"${name}"`))
  );
}

/**
 * Loads `name`, or throws ERR_DEPENDENCY_MISSING saying what it is for and how to install it:
 * `details.reason` is `not-installed`, or `load-failed` when it is installed but cannot load (for
 * sharp, typically a missing platform binary), with the loader's message in `details.cause`.
 */
export function loadOptionalDependency<T>(name: string, purpose: string, load: (id: string) => unknown = requireHere): T {
  try {
    return load(name) as T;
  } catch (e) {
    const missing = isMissing(e, name);
    const cause = e instanceof Error ? e.message : String(e);
    throw new Vit22bError(
      'ERR_DEPENDENCY_MISSING',
      missing
        ? `${purpose} needs the optional package '${name}': npm install ${name}`
        : `${purpose} needs the optional package '${name}', which is installed but failed to load: ${cause}`,
      {
        dependency: name,
        reason: missing ? 'not-installed' : 'load-failed',
        expected: `'${name}' installed (npm install ${name})`,
        received: missing ? 'not installed' : 'a failed load',
        cause,
      },
    );
  }
}
