/** `vit22b train`: a ViT trained with the Trainer, on synthetic shapes by default. */
import { openDevice, type DeviceRequest } from '../runtime/device';
import { openRankGpu } from '../runtime/gpu-binding';
import { Trainer } from '../train/trainer';
import type { Command } from './commands';
import { parseOptions } from './parse-options';
import { TRAIN_OPTION_SPEC, TRAIN_OPTIONS_HELP, trainSetup, type TrainArgs } from './train-setup';
import { ensureOutputDir } from '../io/output-path';
import { meshText } from '../graph/sharding';
import { Vit22bError } from '../runtime/errors';
import type { MeshComm } from '../runtime/mesh';
import type { CliIO } from './io';

const TRAIN_USAGE = `usage: vit22b train [options]

Trains a Vision Transformer and evaluates it on the test set. With no options: the tiny preset
(a ViT-22B-style model for 28x28 images) on the built-in synthetic shapes, 200 steps, about a
minute on two CPU cores.
${TRAIN_OPTIONS_HELP}

Progress goes to stderr; the result (or --json's summary: testAccuracy, steps, seconds,
imagesPerSecond, ...) to stdout.`;

export const trainCommand: Command = {
  name: 'train',
  aliases: [],
  summary: 'train a model (a built-in synthetic dataset by default)',
  usage: TRAIN_USAGE,
  async run(args, io) {
    const o = parseOptions(args, TRAIN_OPTION_SPEC, TRAIN_USAGE);
    if (o.help) {
      io.out(TRAIN_USAGE + '\n');
      return 0;
    }
    // Outputs first: a bad --out or --checkpoint-dir fails before data is loaded or a model compiled.
    for (const dir of [o.out, o['checkpoint-dir']]) if (dir !== undefined) ensureOutputDir(dir);
    const setup = await trainSetup(o, TRAIN_USAGE);
    if (setup.comm.comm === 'local') return train(setup, o, io);
    // A process of a multi-process run: its errors name it (the peers print theirs too).
    const rank = setup.comm.launch.rank;
    try {
      return await train(setup, o, io);
    } catch (e) {
      if (e instanceof Vit22bError && !e.message.startsWith(`[rank ${rank}]`)) throw new Vit22bError(e.code, `[rank ${rank}] ${e.message}`, { ...e.details, rank });
      throw e;
    }
  },
};

async function train(setup: Awaited<ReturnType<typeof trainSetup>>, o: TrainArgs, io: CliIO): Promise<number> {
  // Rank 0 speaks for a multi-process job; the others print only their errors.
  const speaker = setup.comm.launch.rank === 0 || setup.comm.comm === 'local';
  // Over NCCL each rank drives LOCAL_RANK's GPU (lib/runtime/gpu-binding.ts).
  using device = setup.comm.comm === 'nccl' ? openRankGpu(setup.comm.launch) : openDevice({ device: setup.device as DeviceRequest });
  using trainer = new Trainer({ device, ...setup.trainer });
  // Always said, whatever --progress: a silently re-initialized classifier would surprise.
  for (const note of trainer.initNotes) io.err(`vit22b train: --init ${setup.trainer.init!.file}: ${note}\n`);
  if (setup.trainer.progress !== 'none') {
    process.stderr.write(`vit22b train: ${setup.modelName} on ${setup.dataDescription}, ${placeText(device.name, trainer.program.mesh, setup.comm.comm)}, ${trainer.totalSteps} steps of ${setup.microBatch * trainer.accumulation} images\n`);
    // Like --device auto: which backend auto picked, and why.
    if (setup.comm.requested === 'auto' && trainer.program.mesh.data * trainer.program.mesh.model > 1) process.stderr.write(`vit22b train: --comm auto: ${setup.comm.comm} (${setup.comm.reason})\n`);
  }
  const s = await trainer.run();
  if (!speaker) return 0;
  if (o.json) {
    io.out(JSON.stringify({ model: setup.modelName, data: setup.dataDescription, device: device.name, batch: setup.microBatch * trainer.accumulation, ...s }, null, 2) + '\n');
  } else {
    const test = s.testAccuracy !== undefined ? `test accuracy ${(100 * s.testAccuracy).toFixed(2)}%` : 'no test set';
    io.out(`${test} after ${s.steps} steps (${s.seconds.toFixed(1)} s, ${s.imagesPerSecond.toFixed(0)} images/s; final training loss ${s.finalLoss.toFixed(4)})\n`);
  }
  return 0;
}

/** The device, or the mesh of virtual devices (or MPI processes) a run is sharded over. */
function placeText(device: string, mesh: { data: number; model: number }, comm: MeshComm): string {
  const n = mesh.data * mesh.model;
  if (n === 1) return device;
  if (comm === 'nccl') return `a mesh ${meshText(mesh)} over ${n} processes joined by NCCL (one GPU each; this one ${device})`;
  return comm === 'mpi' ? `a mesh ${meshText(mesh)} over ${n} MPI processes (one CPU device each)` : `a mesh ${meshText(mesh)} of ${n} virtual CPU devices`;
}
