import { compileGraph } from '../graph/compile';
import { GraphBuilder, type Precision } from '../graph/builder';
import { planReport } from '../graph/plan-report';
import type { RematPolicy } from '../graph/passes/remat';
import { countParams } from '../model/params';
import { buildVit } from '../model/vit';
import type { Command } from './commands';
import { resolveModel } from './model-option';
import { parseOptions, usageError } from './parse-options';
import { parseMesh } from './mesh-option';
import { OVERLAP_MODES, type OverlapMode } from '../graph/passes/streams';
import { checkMeshFits } from '../model/mesh-fit';
import { meshText } from '../graph/sharding';

const PLAN_USAGE = `usage: vit22b plan [--preset NAME | --config FILE] [--batch N] [--precision fp32|bf16-mixed]
                  [--remat none|selective|block] [--mesh data=T,model=K] [--zero 0|3]
                  [--overlap none|streams|ring|bidirectional] [--forward] [--json]

Compiles one training step (forward, backward, AdamW update) without running it and prints what it
needs: parameters, device memory (the activation arena from the memory planner, and persistent
parameters, gradients and optimizer state), kernel launches and FLOPs per step. No device is used,
so any model can be planned here, ViT-22B included.
  --preset NAME      a model preset (default tiny); --config FILE a JSON model config instead
  --batch N          images per step (default 1; the global batch under --mesh)
  --mesh data=T,model=K  plan ONE device of a data x model mesh: its slices of the weights, their
                     gradients and optimizer state, its activations, and the bytes it moves per step
  --zero 3           with --mesh: ZeRO-3 over data (weights, gradients and optimizer state split t ways)
  --overlap streams  collectives on a communication stream of their own (the arena grows: a
                     collective's buffers stay reserved while compute may run beside it)
  --overlap ring|bidirectional  streams plus the collective matmul: all-gather -> matmul and
                     matmul -> reduce-scatter as ring steps (bidirectional: half each way)
  --forward          plan the forward pass alone (inference) instead of a training step`;

const KIND_LABEL: Record<string, string> = { param: 'parameters', grad: 'gradients', state: 'optimizer state', const: 'constants' };

function gib(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : `${(bytes / 2 ** 20).toFixed(2)} MiB`;
}

export const planCommand: Command = {
  name: 'plan',
  aliases: [],
  summary: "show a training step's memory, kernels and FLOPs without running it",
  usage: PLAN_USAGE,
  async run(args, io) {
    const o = parseOptions(
      args,
      {
        preset: { type: 'string' },
        config: { type: 'string' },
        batch: { type: 'string' },
        precision: { type: 'string' },
        remat: { type: 'string' },
        mesh: { type: 'string' },
        zero: { type: 'string' },
        overlap: { type: 'string' },
        forward: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      PLAN_USAGE,
    );
    if (o.help) {
      io.out(PLAN_USAGE + '\n');
      return 0;
    }
    if (o.preset !== undefined && o.config !== undefined) throw usageError('give --preset or --config, not both', PLAN_USAGE, args.join(' '));
    const { name: modelName, config } = resolveModel(o.preset, o.config);
    const batch = Number(o.batch ?? 1);
    if (!Number.isSafeInteger(batch) || batch < 1) throw usageError('--batch must be a positive integer', PLAN_USAGE, String(o.batch));
    const precision = (o.precision ?? 'fp32') as Precision;
    if (precision !== 'fp32' && precision !== 'bf16-mixed') throw usageError('--precision must be fp32 or bf16-mixed', PLAN_USAGE, precision);
    const remat = (o.remat ?? 'none') as RematPolicy;
    if (!['none', 'selective', 'block'].includes(remat)) throw usageError('--remat must be none, selective or block', PLAN_USAGE, remat);

    const mesh = parseMesh(o.mesh, PLAN_USAGE) ?? { data: 1, model: 1 };
    checkMeshFits(config, mesh, batch);

    const b = new GraphBuilder({ precision });
    buildVit(b, config, { batch });
    const train = o.forward ? undefined : { loss: 'loss', optimizer: { kind: 'adamw' as const } };
    const zero = o.zero === undefined ? 0 : o.zero === '0' || o.zero === '3' ? (Number(o.zero) as 0 | 3) : undefined;
    if (zero === undefined) throw usageError('--zero must be 0 or 3', PLAN_USAGE, String(o.zero));
    const overlap = (o.overlap ?? 'none') as OverlapMode;
    if (!OVERLAP_MODES.includes(overlap)) throw usageError(`--overlap must be one of ${OVERLAP_MODES.join(', ')}`, PLAN_USAGE, String(o.overlap));
    const compiled = compileGraph(b.graph, { train, remat, mesh, zero, overlap });
    const report = planReport(compiled.lowered.plan, compiled.memory);
    const params = countParams(config);
    const summary = { model: modelName, config, batch, precision, remat, mesh, zero, overlap, streams: compiled.lowered.plan.streams.length, devices: mesh.data * mesh.model, mode: o.forward ? 'forward' : 'train', params, ...report };
    if (o.json) {
      io.out(JSON.stringify(summary, null, 2) + '\n');
      return 0;
    }
    const m = report.memory;
    const lines = [
      `${summary.model}: ${config.depth} ${config.block} blocks, width ${config.width}, ${config.heads} heads, MLP ${config.mlpDim}, pool ${config.pool}`,
      `parameters: ${params.total.toLocaleString('en-US')} (block matrices ${params.blockMatrices.toLocaleString('en-US')})`,
      `${summary.mode} step, batch ${batch}, ${precision}, remat ${remat}${summary.devices > 1 ? `, per device of mesh ${meshText(mesh)} (${summary.devices} devices)` : ''}:`,
      `  activation arena  ${gib(m.arenaBytes)} (${gib(m.unsharedBytes)} without reuse)`,
      ...Object.entries(m.persistentByKind).map(([k, v]) => `  ${(KIND_LABEL[k] ?? k).padEnd(17)} ${gib(v)}`),
      `  total             ${gib(m.totalBytes)}`,
      `  kernels           ${report.instructions} launches per step (${Object.entries(report.kernels)
        .sort((x, y) => y[1] - x[1])
        .slice(0, 6)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')}, ...)`,
      `  FLOPs             ${(report.flops / 1e12).toFixed(3)} TFLOP per step (GEMMs and attention)`,
      ...Object.entries(report.collectives).map(([k, v]) => `  ${k.padEnd(17)} ${gib(v.bytes)} per step in ${v.calls} calls`),
    ];
    io.out(lines.join('\n') + '\n');
    return 0;
  },
};
