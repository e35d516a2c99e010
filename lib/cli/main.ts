#!/usr/bin/env node
// The `vit22b` command. Kept to one line so the whole CLI stays importable (and testable) as run().
import { run } from './run';

void run(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
