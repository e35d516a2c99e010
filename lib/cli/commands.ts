import { openDevice, type DeviceRequest } from '../runtime/device';
import { systemInfo } from '../runtime/info';
import { formatInfo } from './format-info';
import { formatModelInfo, modelInfo } from './model-info';
import { benchCommand } from './bench-command';
import { planCommand } from './plan-command';
import { evalCommand } from './eval-command';
import { trainCommand } from './train-command';
import { predictCommand } from './predict-command';
import { exportCommand } from './export-command';
import { gradCommand } from './grad-command';
import { probeCommand } from './probe-command';
import { fewshotCommand } from './fewshot-command';
import { studyCommand } from './study-command';
import { launchCommand, launchRankCommand } from './launch-command';
import type { CliIO } from './io';
import { parseOptions, usageError } from './parse-options';

export interface Command {
  name: string;
  aliases: string[];
  summary: string;
  /** Internal commands (the launcher's rank shim): runnable, but not in the help's list. */
  hidden?: boolean;
  /** Set for commands that are listed but not shipped yet, naming the piece of work they wait for. */
  pending?: string;
  usage: string;
  run(args: string[], io: CliIO): Promise<number>;
}

const INFO_USAGE = `usage: vit22b info [--json] [--device auto|cpu|cuda]
       vit22b info --model NAME|FILE [--json]

Prints the package version, the native addon in use, the CPU's features, and CUDA: driver, GPUs,
cuBLASLt and NCCL, or why each is missing. Runs one kernel on the default device as a self-test.
  --json             one JSON object on stdout
  --device <kind>    also open this device, failing (exit 1) if it cannot be used
  --model <name>     instead: a model preset (or a JSON config file): its config and parameter
                     counts (params.blockMatrices: the dense block matrices, what the ViT-22B paper
                     counts; params.total: every parameter), from the specs the model is built from`;

const infoCommand: Command = {
  name: 'info',
  aliases: ['doctor'],
  summary: 'show the addon, CPU features, GPUs, cuBLASLt/NCCL, and run a self-test',
  usage: INFO_USAGE,
  async run(args, io) {
    const opts = parseOptions(
      args,
      { json: { type: 'boolean' }, device: { type: 'string' }, model: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      INFO_USAGE,
    );
    if (opts.help) {
      io.out(INFO_USAGE + '\n');
      return 0;
    }
    if (opts.model !== undefined) {
      const info = modelInfo(opts.model);
      io.out(opts.json ? JSON.stringify(info, null, 2) + '\n' : formatModelInfo(info));
      return 0;
    }
    if (opts.device !== undefined && !['auto', 'cpu', 'cuda'].includes(opts.device)) {
      throw usageError(`--device must be auto, cpu or cuda`, INFO_USAGE, opts.device);
    }
    const info = systemInfo();
    if (opts.device !== undefined) {
      // Throws ERR_CUDA_UNAVAILABLE (and friends) with the cause; run() prints it, in JSON if asked.
      using device = openDevice({ device: opts.device as DeviceRequest });
      void device;
    }
    io.out(opts.json ? JSON.stringify(info, null, 2) + '\n' : formatInfo(info));
    // A broken kernel setting (VIT22B_CPU_ISA, VIT22B_NUM_THREADS) fails the doctor too.
    return info.selfTest.ok && info.cpuError === undefined ? 0 : 1;
  },
};

export const COMMANDS: Command[] = [
  trainCommand,
  evalCommand,
  predictCommand,
  exportCommand,
  gradCommand,
  probeCommand,
  fewshotCommand,
  studyCommand,
  benchCommand,
  planCommand,
  launchCommand,
  launchRankCommand,
  infoCommand,
];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name || c.aliases.includes(name));
}
