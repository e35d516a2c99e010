import * as path from 'node:path';

/** The repository root (where package.json is). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** The built CLI, run the way users run it. */
export const DIST_CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
