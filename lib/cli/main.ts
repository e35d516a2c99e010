#!/usr/bin/env node
// The `vit22b` command. Kept small so the whole CLI stays importable (and testable) as run().
import { processIO } from './io';
import { reportError } from './report-error';
import { run } from './run';

// Whatever escapes run() (an error in a callback, a rejection nobody awaited) is still reported as
// a typed error without a stack trace, and the process ends with status 1 instead of Node's crash.
const last = (e: unknown): void => {
  process.exitCode = reportError(processIO, e, process.argv.includes('--json'));
  process.exit();
};
process.on('uncaughtException', last);
process.on('unhandledRejection', last);
// A closed stdout (`vit22b ... | head`) ends the command quietly, as for any Unix tool.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  last(e);
});

void run(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
