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
import { MAX_PLANNED_MESH_DEVICES } from '../runtime/mesh';
import { chooseDevice, formatEstimate, formatSearch, runCalibrate, runEstimate, search } from './plan-run';
import { finiteNumber, positiveInt } from './option-values';
import type { CliIO } from './io';
import type { PlannerOverlap } from '../plan/estimate';

const PLAN_USAGE = `usage: vit22b plan [--preset NAME | --config FILE] [--batch N] [--precision fp32|bf16-mixed]
                  [--remat none|selective|block] [--mesh data=T,model=K] [--zero 0|3]
                  [--overlap none|streams|ring|bidirectional] [--forward] [--json]
       vit22b plan --device ID [--nodes N --gpus-per-node G] [--overlap none|streams|ring|bidirectional]
                  [--peak-tflops X --hbm-gbps X --link-gbps X] [--calibration FILE] [--full-depth] ... [--json]
       vit22b plan --search --gpus N --device ID [--top K] ... [--json]
       vit22b plan --calibrate [--calibration FILE] [--json]

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
  --forward          plan the forward pass alone (inference) instead of a training step

The planner (--device): the same per-device plan, every instruction costed on a card (GEMMs by an
efficiency model of their shape, memory-bound kernels at sustained HBM bandwidth, collectives by ring
formulas on the link their mesh axis maps to: the model axis inside a node first) and scheduled on
the plan's own streams and events. All figures are MODELLED, none measured. Precision defaults to
bf16-mixed here. Deep models are compiled at 2 and 3 blocks and extrapolated (the blocks are
identical; the output says so); --full-depth compiles every block.
  --device ID        h100-sxm, h100-pcie, h200, a100, b200, tpu-v4 (lib/plan/devices.ts: sourced
                     datasheet figures), or cpu (the calibration below)
  --nodes N --gpus-per-node G  the machine: N x G must be the mesh's devices (default: the card's
                     node size, 8 GPUs; 4 TPU chips)
  --overlap ring|bidirectional  the collective matmul, costed on the plan the compiler emits
                     for it (the ring's permutes on the communication stream beside its GEMMs)
  --peak-tflops X --hbm-gbps X --link-gbps X  override the card's bf16 peak, HBM bandwidth, link
  --search --gpus N  try every mesh of N chips (any kind) dividing the model and batch, ZeRO 0/3,
                     remat, overlap; print the best --top K (default 5) and why others were rejected;
                     ZeRO-3 only on data axes up to --max-zero-data (default 256: larger ones take
                     minutes to compile today)
  --calibrate        measure this CPU's GEMM rates by shape, bandwidth and launch cost with our own
                     kernels; write them to --calibration FILE (default
                     $XDG_CACHE_HOME/vit22b/plan-calibration.json or ~/.cache/vit22b/...), which
                     --device cpu reads

--json with --device: one object (stable field names)
  model parameters batch perDeviceBatch precision remat zero overlap overlapModel mesh{data,model}
  devices device{id,name,peakTflops,hbmBytes,hbmGBps,linkGBps,netGBps}
  topology{devicesPerNode,nodes,model,data}        model/data: 'link' | 'network'
  compiled{depth,extrapolated,depths[],seconds}
  memory{parameters,gradients,optimizerState,constants,arena,activations,gatheredWeights,
         communicationBuffers,fragmentation,total,fits,capacity,reserve,headroom,advice[]}  (bytes)
  flops{modelPerImage,modelPerDevice,hardwarePerDevice}
  communication[{collective,axis,carrier,calls,inputBytes,sentBytes,seconds}]
  time{stepSeconds,serialSeconds,unoverlappedSeconds,computeSeconds,communicationSeconds,
       exposedCommunicationSeconds,imagesPerSecond}
  mfu{withOverlap,withoutOverlap,hfu}   (fractions)
  criticalPath{instructions,secondsByClass{gemm,attention,memory,collective},top[{kernel,note,seconds}]}
  kernels{launches,byKernel{}}
--json with --search: {chips,device,batch,precision,seconds,evaluated,
  best[{mesh,zero,remat,overlap,stepSeconds,imagesPerSecond,mfu,memoryBytes,headroomBytes}] (best first),
  rejected[{mesh,zero?,remat?,reason}], bestPlan (the object above)}`;

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
        device: { type: 'string' },
        nodes: { type: 'string' },
        'gpus-per-node': { type: 'string' },
        'peak-tflops': { type: 'string' },
        'hbm-gbps': { type: 'string' },
        'link-gbps': { type: 'string' },
        calibration: { type: 'string' },
        calibrate: { type: 'boolean' },
        'full-depth': { type: 'boolean' },
        search: { type: 'boolean' },
        gpus: { type: 'string' },
        top: { type: 'string' },
        'max-zero-data': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      PLAN_USAGE,
    );
    if (o.help) {
      io.out(PLAN_USAGE + '\n');
      return 0;
    }
    if (o.calibrate) return runCalibrate(o.calibration, !!o.json, io);
    if (o.preset !== undefined && o.config !== undefined) throw usageError('give --preset or --config, not both', PLAN_USAGE, args.join(' '));
    if (o.device !== undefined || o.search) return planner(o, args, io);
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

type PlanOptions = Record<string, string | boolean | undefined>;

/** --device / --search: the planner (lib/plan). */
function planner(o: PlanOptions, args: string[], io: CliIO): number {
  const str = (k: string) => o[k] as string | undefined;
  if (o.forward) throw usageError('the planner models a training step: --forward goes without --device', PLAN_USAGE, args.join(' '));
  const { name: modelName, config } = resolveModel(str('preset'), str('config'));
  const batch = positiveInt(str('batch'), 'batch', 1, PLAN_USAGE);
  const precision = (str('precision') ?? 'bf16-mixed') as Precision;
  if (precision !== 'fp32' && precision !== 'bf16-mixed') throw usageError('--precision must be fp32 or bf16-mixed', PLAN_USAGE, precision);
  if (str('device') === undefined) throw usageError('--search needs --device ID', PLAN_USAGE, args.join(' '));
  const overrides = {
    peakTflops: str('peak-tflops') === undefined ? undefined : finiteNumber(str('peak-tflops'), 'peak-tflops', 0, PLAN_USAGE, 1e-6),
    hbmGBps: str('hbm-gbps') === undefined ? undefined : finiteNumber(str('hbm-gbps'), 'hbm-gbps', 0, PLAN_USAGE, 1e-6),
    linkGBps: str('link-gbps') === undefined ? undefined : finiteNumber(str('link-gbps'), 'link-gbps', 0, PLAN_USAGE, 1e-6),
  };
  const choice = chooseDevice(str('device')!, precision, overrides, str('calibration'));
  const gpn = str('gpus-per-node') === undefined ? undefined : positiveInt(str('gpus-per-node'), 'gpus-per-node', undefined, PLAN_USAGE);
  if (o.search) {
    if (str('mesh') !== undefined) throw usageError('--search tries the meshes itself: give --gpus N, not --mesh', PLAN_USAGE, String(str('mesh')));
    const chips = positiveInt(str('gpus'), 'gpus', undefined, PLAN_USAGE);
    const r = search({ config, model: modelName, chips, batch, device: choice.device, devicesPerNode: gpn, precision, top: positiveInt(str('top'), 'top', 5, PLAN_USAGE), depths: [2, 3], maxZeroData: positiveInt(str('max-zero-data'), 'max-zero-data', 256, PLAN_USAGE), log: (line) => io.err(line + '\n') });
    io.out(o.json ? JSON.stringify(r, null, 2) + '\n' : formatSearch(r));
    return 0;
  }
  const remat = (str('remat') ?? 'none') as RematPolicy;
  if (!['none', 'selective', 'block'].includes(remat)) throw usageError('--remat must be none, selective or block', PLAN_USAGE, remat);
  const mesh = parseMesh(str('mesh'), PLAN_USAGE, MAX_PLANNED_MESH_DEVICES) ?? { data: 1, model: 1 };
  const zero = str('zero') === undefined ? 0 : str('zero') === '0' || str('zero') === '3' ? (Number(str('zero')) as 0 | 3) : undefined;
  if (zero === undefined) throw usageError('--zero must be 0 or 3', PLAN_USAGE, String(str('zero')));
  const overlap = (str('overlap') ?? 'none') as PlannerOverlap;
  if (!['none', 'streams', 'ring', 'bidirectional'].includes(overlap)) throw usageError('--overlap must be none, streams, ring or bidirectional', PLAN_USAGE, overlap);
  const devices = mesh.data * mesh.model;
  if (str('nodes') !== undefined) {
    const nodes = positiveInt(str('nodes'), 'nodes', undefined, PLAN_USAGE);
    const per = gpn ?? choice.device.devicesPerNode;
    if (nodes * per !== devices) throw usageError(`--nodes ${nodes} x --gpus-per-node ${per} must equal the mesh's ${devices} devices`, PLAN_USAGE, `${nodes} x ${per}`);
  }
  checkMeshFits(config, mesh, batch, MAX_PLANNED_MESH_DEVICES);
  const e = runEstimate({ config, model: modelName, batch, mesh, zero, overlap, remat, precision, choice, devicesPerNode: gpn, fullDepth: !!o['full-depth'] });
  io.out(o.json ? JSON.stringify(e, null, 2) + '\n' : formatEstimate(e));
  return 0;
}
