/**
 * `vit22b bench step`: images per second of a whole training step (lib/bench/step.ts), its MFU
 * (lib/bench/mfu.ts) and, with --peer torch, the same model in PyTorch timed the same way, eager and
 * compiled, with the ratios (lib/bench/torch-peer.ts).
 */
import { trainingFlopsPerImage } from '../bench/mfu';
import { benchStep, type StepBenchResult } from '../bench/step';
import { comparePeer, formatComparison, runTorchPeer, type ComparisonRow, type TorchPeerResult } from '../bench/torch-peer';
import { benchModel, benchModelNames, largestFittingBatch, smallerBatch, usableBytes, withDepth } from '../bench/workloads';
import type { Precision } from '../graph/builder';
import type { RematPolicy } from '../graph/passes/remat';
import type { OptimizerSpec } from '../graph/training-step';
import { cudaStatus } from '../runtime/cuda-status';
import { openDevice, type DeviceRequest } from '../runtime/device';
import { Vit22bError } from '../runtime/errors';
import type { CliIO } from './io';
import { resolveModel } from './model-option';
import { parseOptions, usageError } from './parse-options';
import { choice, finiteNumber, positiveInt } from './option-values';
import { MESH_HELP, parseMesh } from './mesh-option';
import { OVERLAP_MODES, type OverlapMode } from '../graph/passes/streams';

export const BENCH_STEP_USAGE = `usage: vit22b bench step [--preset NAME | --config FILE] [--depth N] [--batch B|auto]
                         [--device auto|cpu|cuda] [--optimizer adamw|adafactor]
                         [--precision fp32|bf16-mixed] [--remat none|selective|block]
                         [--steps N] [--warmup N] [--seconds S] [--peak-tflops T]
                         [--peer torch] [--peer-modes eager,compile] [--peer-timeout S]
                         [--mesh data=T,model=K] [--zero 0|3]
                         [--overlap none|streams|ring|bidirectional] [--trace FILE] [--json]

Times whole training steps (forward, backward, clipping, optimizer: one native call each) on random
inputs and prints images per second (batch / median step time) and the model FLOPs utilization.
  --preset NAME    a preset, or ${benchModelNames().join(', ')}: ViT-22B at full width (D 6144, 48 heads,
                   MLP 24576, 224 px in 14 px patches: 256 tokens) with --depth layers (default 4)
  --depth N        replace the model's depth (any preset or config)
  --batch B|auto   auto (CUDA only; the default there): the largest batch whose planned memory
                   fits the card. Default on the CPU: 128
  --precision      default bf16-mixed on CUDA, fp32 on the CPU
  --peak-tflops T  the card's dense bf16 peak, for a card not in the table (H100 SXM 989.4,
                   H100 PCIe 756, H200 989.4, A100 312 TFLOP/s)
  --trace FILE     write one extra, profiled step's timeline (Chrome trace JSON: Perfetto, chrome://tracing)
${MESH_HELP} (the batch is the global one)
  --zero 0|3       with --mesh: 3 shards weights, gradients and optimizer state over data (ZeRO-3)
  --overlap none|streams|ring|bidirectional  with --mesh: collectives on a stream of their own;
                   ring|bidirectional: also the collective matmul (lib/graph/passes/ring.ts)
  --peer torch     also time the same model in PyTorch (bench/step_torch_gpu.py, from a clone;
                   $PYTHON or python3 with torch): bf16 autocast, scaled_dot_product_attention,
                   fused AdamW, eager and torch.compile; same batch, same timing; prints the ratios
MFU = PaLM model FLOPs (6N + 12·L·H·Q·T per token, N the non-embedding parameters; the pooling
head counted once per image) x images/s / peak; HFU uses the FLOPs the compiled step launches.
Threads: VIT22B_NUM_THREADS. All three GPU workloads with both peers: bench/gpu-all.sh.`;

function flopText(f: number): string {
  return f >= 1e12 ? `${(f / 1e12).toFixed(3)} TFLOP` : `${(f / 1e9).toFixed(3)} GFLOP`;
}

export async function runBenchStep(args: string[], io: CliIO): Promise<number> {
  const o = parseOptions(
    args,
    {
      preset: { type: 'string' },
      config: { type: 'string' },
      depth: { type: 'string' },
      batch: { type: 'string' },
      device: { type: 'string' },
      optimizer: { type: 'string' },
      precision: { type: 'string' },
      remat: { type: 'string' },
      steps: { type: 'string' },
      warmup: { type: 'string' },
      seconds: { type: 'string' },
      'peak-tflops': { type: 'string' },
      trace: { type: 'string' },
      mesh: { type: 'string' },
      zero: { type: 'string' },
      overlap: { type: 'string' },
      peer: { type: 'string' },
      'peer-modes': { type: 'string' },
      'peer-timeout': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    BENCH_STEP_USAGE,
  );
  if (o.help) {
    io.out(BENCH_STEP_USAGE + '\n');
    return 0;
  }
  const depth = o.depth === undefined ? undefined : positiveInt(o.depth, 'depth', undefined, BENCH_STEP_USAGE);
  const stack = o.preset !== undefined && o.config === undefined ? benchModel(o.preset, depth) : undefined;
  const resolved = stack ?? resolveModel(o.preset, o.config);
  const model = stack ? resolved : { name: depth === undefined ? resolved.name : `${resolved.name} (depth ${depth})`, config: withDepth(resolved.config, depth) };

  const device = choice(o.device, 'device', ['auto', 'cpu', 'cuda'], 'auto', BENCH_STEP_USAGE) as DeviceRequest;
  const optimizerKind = choice(o.optimizer, 'optimizer', ['adamw', 'adafactor'], 'adamw', BENCH_STEP_USAGE) as 'adamw' | 'adafactor';
  const optimizer: OptimizerSpec = optimizerKind === 'adamw' ? { kind: 'adamw', weightDecay: 1e-4 } : { kind: 'adafactor', weightDecay: 0.03 };
  const seconds = finiteNumber(o.seconds, 'seconds', 0, BENCH_STEP_USAGE, 0, 600);
  const steps = positiveInt(o.steps, 'steps', 5, BENCH_STEP_USAGE);
  const warmup = positiveInt(o.warmup, 'warmup', 2, BENCH_STEP_USAGE, 0);
  const remat = choice(o.remat, 'remat', ['none', 'selective', 'block'], 'none', BENCH_STEP_USAGE) as RematPolicy;
  const peakTflops = o['peak-tflops'] === undefined ? undefined : finiteNumber(o['peak-tflops'], 'peak-tflops', 0, BENCH_STEP_USAGE, 1e-6);
  const peer = o.peer === undefined ? undefined : choice(o.peer, 'peer', ['torch'], 'torch', BENCH_STEP_USAGE);
  const peerModes = (o['peer-modes'] ?? 'eager,compile').split(',').filter(Boolean);
  if (peerModes.length === 0 || !peerModes.every((m) => m === 'eager' || m === 'compile')) {
    throw usageError('--peer-modes takes eager and/or compile, comma-separated', BENCH_STEP_USAGE, String(o['peer-modes']));
  }
  const peerTimeout = finiteNumber(o['peer-timeout'], 'peer-timeout', 480, BENCH_STEP_USAGE, 1, 3600);
  const mesh = parseMesh(o.mesh, BENCH_STEP_USAGE);
  const zero = Number(choice(o.zero, 'zero', ['0', '3'], '0', BENCH_STEP_USAGE)) as 0 | 3;
  const overlap = choice(o.overlap, 'overlap', [...OVERLAP_MODES], 'none', BENCH_STEP_USAGE) as OverlapMode;
  if (!mesh && (zero !== 0 || overlap !== 'none')) throw usageError('--zero and --overlap need --mesh', BENCH_STEP_USAGE, `--zero ${zero} --overlap ${overlap}`);
  if (mesh && device === 'cuda') throw usageError('--mesh runs virtual CPU devices (use --device cpu or auto)', BENCH_STEP_USAGE, 'cuda');
  if (mesh && peer !== undefined) throw usageError('--peer compares one device; leave out --mesh', BENCH_STEP_USAGE, String(o.mesh));

  // The device kind without opening it: the PyTorch peer runs before vit22b takes the card (a
  // CUDA context and an allocator cache held meanwhile would shrink what the peer can use).
  const cudaUsable = device !== 'cpu' && !mesh && cudaStatus().available;
  if (device === 'cuda' && !cudaUsable) openDevice({ device }).dispose(); // throws ERR_CUDA_UNAVAILABLE with the cause
  const kind: 'cpu' | 'cuda' = cudaUsable ? 'cuda' : 'cpu';
  const precision = choice(o.precision, 'precision', ['fp32', 'bf16-mixed'], kind === 'cuda' ? 'bf16-mixed' : 'fp32', BENCH_STEP_USAGE) as Precision;
  const notes: string[] = [];

  // The batch: given, or the largest whose planned memory fits the card (CUDA only).
  const batchArg = o.batch ?? (kind === 'cuda' ? 'auto' : undefined);
  let batch: number;
  const auto = batchArg === 'auto';
  if (auto) {
    if (kind !== 'cuda') throw usageError('--batch auto needs --device cuda (it sizes the batch to the card)', BENCH_STEP_USAGE, 'auto');
    const memoryBytes = cudaStatus().devices[0]?.memoryBytes ?? 0;
    const fit = largestFittingBatch(model.config, usableBytes(memoryBytes), { precision, remat, optimizer });
    if (fit === undefined) {
      throw new Vit22bError('ERR_DEVICE_OOM', `${model.name}: not even batch 1 fits in ${(memoryBytes / 2 ** 30).toFixed(1)} GiB by the memory plan`, {
        expected: 'a smaller model (--depth) or --remat block',
        received: `${memoryBytes} bytes of device memory`,
      });
    }
    batch = fit;
    notes.push(`batch ${batch}: the largest whose planned step fits in ${(usableBytes(memoryBytes) / 2 ** 30).toFixed(1)} GiB of the card's ${(memoryBytes / 2 ** 30).toFixed(1)} GiB`);
  } else {
    batch = positiveInt(batchArg, 'batch', 128, BENCH_STEP_USAGE);
  }

  // The peer first: its process ends (freeing all its device memory) before vit22b allocates.
  let peerResult: TorchPeerResult | { missing: string } | undefined;
  if (peer === 'torch') {
    io.err(`bench step: PyTorch peer (${peerModes.join(', ')}), batch ${batch}...\n`);
    peerResult = runTorchPeer({
      config: model.config,
      batch,
      precision,
      device: kind,
      modes: peerModes as ('eager' | 'compile')[],
      steps,
      warmup,
      seconds,
      timeoutMs: peerTimeout * 1e3,
    });
  }

  // vit22b; with an automatic batch, an out-of-memory step is retried one batch size down.
  using dev = openDevice({ device: kind });
  let ours: StepBenchResult | undefined;
  let failure: Vit22bError | Error | undefined;
  for (;;) {
    try {
      io.err(`bench step: vit22b, batch ${batch}...\n`);
      ours = await benchStep(dev, { config: model.config, name: model.name, batch, optimizer, precision, remat, steps, warmup, seconds, peakTflops, ...(o.trace !== undefined ? { trace: o.trace } : {}), ...(mesh ? { mesh, zero, overlap } : {}) });
      break;
    } catch (e) {
      const next = auto && e instanceof Vit22bError && e.code === 'ERR_DEVICE_OOM' ? smallerBatch(batch) : undefined;
      if (next === undefined) {
        failure = e as Error;
        break;
      }
      notes.push(`out of device memory at batch ${batch} (${(e as Error).message.split('\n')[0]}); retried at ${next}`);
      batch = next;
    }
  }
  if (failure && !peerResult) throw failure;

  const flops = trainingFlopsPerImage(model.config);
  let comparison: ComparisonRow[] | undefined;
  if (peerResult) {
    const oursRow = ours
      ? { batch: ours.batch, imagesPerSecond: ours.imagesPerSecond, medianSecondsPerStep: ours.medianSecondsPerStep, utilization: ours.utilization }
      : { error: `${(failure as Vit22bError).code ?? 'error'}: ${failure!.message.split('\n')[0]}` };
    comparison = comparePeer(oursRow, peerResult, { deviceName: dev.name, deviceKind: dev.kind, modelFlopsPerImage: flops.perImage, peakOverride: peakTflops });
    if ('missing' in peerResult) notes.push(`PyTorch peer: ${peerResult.missing}`);
    else notes.push(...peerResult.notes.map((n) => `PyTorch peer: ${n}`));
  }

  if (o.json) {
    const report = {
      ...(ours ?? { benchmark: 'step', model: model.name, device: dev.name, batch, precision, error: comparison![0]!.missing }),
      batchAuto: auto,
      flops: { ...flops, formula: '6·(N_token·T + N_image) + 12·L·H·Q·T² (+ 12·H·Q·T for MAP), per image' },
      notes,
      ...(peerResult ? { peer: peerResult, comparison } : {}),
    };
    io.out(JSON.stringify(report, null, 2) + '\n');
    return ours ? 0 : 1;
  }
  const lines: string[] = [];
  if (ours) {
    const u = ours.utilization;
    lines.push(
      `training step of ${ours.model} (${(ours.parameters / 1e6).toFixed(2)}M parameters), batch ${ours.batch}, ${ours.precision}, ${ours.optimizer}, on ${ours.device}` +
        (ours.mesh ? ` x ${ours.mesh.shape.data * ours.mesh.shape.model} (mesh ${ours.mesh.shape.data}x${ours.mesh.shape.model}, zero ${ours.mesh.zero}, overlap ${ours.mesh.overlap})` : '') +
        `${ours.threads ? ` (${ours.threads} threads)` : ''}: ${ours.imagesPerSecond.toFixed(1)} images/s` +
        ` (median ${(ours.medianSecondsPerStep * 1e3).toFixed(1)} ms per step over ${ours.steps} steps)`,
      `  model FLOPs ${(flops.perImage / 1e9).toFixed(2)} GFLOP per image (PaLM, N = ${(flops.nonEmbeddingParams / 1e6).toFixed(2)}M non-embedding, T = ${flops.tokens}),` +
        ` launched ${flopText(ours.launchedFlopsPerStep)} per step`,
      'mfu' in u
        ? `  MFU ${(u.mfu * 100).toFixed(1)}%${u.hfu !== undefined ? `, HFU ${(u.hfu * 100).toFixed(1)}%` : ''} of ${u.card}'s ${u.peakTflops} TFLOP/s dense bf16`
        : `  ${u.note}`,
    );
  } else {
    lines.push(`training step of ${model.name}, batch ${batch}, ${precision}, on ${dev.name}: vit22b failed: ${failure!.message.split('\n')[0]}`);
  }
  if (comparison) lines.push(formatComparison(comparison));
  for (const n of notes) lines.push(`  note: ${n}`);
  io.out(lines.join('\n') + '\n');
  return ours ? 0 : 1;
}
