import { Vit22bError } from '../runtime/errors';
import { packageVersion } from '../runtime/package-root';
import { COMMANDS, findCommand } from './commands';
import { processIO, type CliIO } from './io';
import { reportError } from './report-error';

export function helpText(): string {
  const listed = COMMANDS.filter((c) => !c.hidden);
  const width = Math.max(...listed.map((c) => c.name.length + (c.aliases.length ? c.aliases.join(', ').length + 3 : 0)));
  const lines = listed.map((c) => {
    const name = c.aliases.length ? `${c.name} (${c.aliases.join(', ')})` : c.name;
    return `  ${name.padEnd(width)}  ${c.summary}${c.pending ? ' [not yet available]' : ''}`;
  });
  return [
    `vit22b ${packageVersion()}: train Vision Transformers with the ViT-22B recipe, on CUDA GPUs or the CPU`,
    '',
    'usage: vit22b <command> [options]      vit22b <command> --help',
    '',
    'commands:',
    ...lines,
    '',
    'options:',
    '  -h, --help      this text',
    '  -v, --version   the package version',
    '',
  ].join('\n');
}

/** Runs the CLI; returns the exit code (0 ok, 1 failure, 2 usage error). Never throws. */
export async function run(argv: string[], io: CliIO = processIO): Promise<number> {
  const json = argv.includes('--json');
  try {
    const [first, ...rest] = argv;
    if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
      io.out(helpText());
      return 0;
    }
    if (first === '--version' || first === '-v') {
      io.out(packageVersion() + '\n');
      return 0;
    }
    const command = findCommand(first);
    if (!command) {
      throw new Vit22bError('ERR_USAGE', `unknown command '${first}'\n\n${helpText()}`, {
        expected: COMMANDS.filter((c) => !c.hidden).map((c) => c.name).join(' | '),
        received: first,
      });
    }
    if (command.pending && (rest.includes('--help') || rest.includes('-h'))) {
      io.out(command.usage + '\n');
      return 0;
    }
    return await command.run(rest, io);
  } catch (e) {
    return reportError(io, e, json);
  }
}
