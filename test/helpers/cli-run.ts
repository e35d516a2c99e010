/** Runs the vit22b command line in this process (lib/cli/run), capturing stdout and stderr. */
import type { CliIO } from '../../lib/cli/io';
import { run } from '../../lib/cli/run';

export async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = { out: (t) => void (out += t), err: (t) => void (err += t) };
  const code = await run(args, io);
  return { code, out, err };
}
