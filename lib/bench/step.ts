/**
 * Throughput of a whole training step of a ViT (forward, backward, global norm, clip, optimizer:
 * one plan, one native call): images per second from the median step time over a few timed steps
 * after warm-up steps. Inputs are fixed pseudo-random images and labels (the step's cost does not
 * depend on their values).
 */
import * as fs from 'node:fs';

import { compile } from '../graph/compile';
import { planReport } from '../graph/plan-report';
import type { Precision } from '../graph/builder';
import type { RematPolicy } from '../graph/passes/remat';
import type { OverlapMode } from '../graph/passes/streams';
import type { MeshShape } from '../graph/sharding';
import type { OptimizerSpec } from '../graph/training-step';
import { countParams, type ModelConfig } from '../model';
import { loadedAddonAt } from '../runtime/addon-loader';
import type { Device } from '../runtime/device';
import { Vit22bError } from '../runtime/errors';
import { vitModel } from '../train/vit-model';
import { trainingFlopsPerImage, utilization, type Utilization } from './mfu';

export interface StepBenchOptions {
  config: ModelConfig;
  /** A label for the report (the preset's name). */
  name?: string;
  batch: number;
  optimizer?: OptimizerSpec;
  precision?: Precision;
  remat?: RematPolicy;
  /** Untimed steps first (the first run allocates and faults in memory). Default 2. */
  warmup?: number;
  /** Timed steps: at least this many, and more until `seconds` have passed (at most 200). Default 5. */
  steps?: number;
  seconds?: number;
  /** The card's dense bf16 peak in TFLOP/s, for a card lib/bench/mfu.ts does not know. */
  peakTflops?: number;
  /** Write one extra, profiled step's timeline here (Chrome trace JSON; Program.timeline). */
  trace?: string;
  /** A data x model mesh of virtual CPU devices (the batch is the global one); default one device. */
  mesh?: MeshShape;
  /** With mesh: ZeRO-3 over data. */
  zero?: 0 | 3;
  /** With mesh: 'streams', 'ring' or 'bidirectional' (compile's overlap). */
  overlap?: OverlapMode;
}

export interface StepBenchResult {
  benchmark: 'step';
  model: string;
  device: string;
  threads?: number;
  batch: number;
  precision: Precision;
  optimizer: string;
  /** The mesh, ZeRO and overlap of a sharded step (device and arenaBytes are per device then). */
  mesh?: { shape: MeshShape; zero: 0 | 3; overlap: OverlapMode };
  parameters: number;
  imagesPerSecond: number;
  medianSecondsPerStep: number;
  steps: number;
  arenaBytes: number;
  /** PaLM model FLOPs of a training step per image (lib/bench/mfu.ts). */
  modelFlopsPerImage: number;
  /** The FLOPs the compiled step launches (GEMMs and attention, recomputation included; plan-report). */
  launchedFlopsPerStep: number;
  /** MFU and HFU against the card's dense bf16 peak, or a note saying why they are omitted. */
  utilization: Utilization;
}

export async function benchStep(device: Device, o: StepBenchOptions): Promise<StepBenchResult> {
  if (!Number.isSafeInteger(o.batch) || o.batch < 1) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', 'benchStep batch must be a positive integer', { expected: 'an integer >= 1', received: String(o.batch) });
  }
  const c = o.config;
  const optimizer = o.optimizer ?? { kind: 'adamw', weightDecay: 1e-4 };
  const precision = o.precision ?? 'fp32';
  using program = compile(vitModel(c), {
    device,
    inputShapes: { images: [o.batch, c.imageSize, c.imageSize, c.channels], labels: [o.batch] },
    train: { loss: 'loss', optimizer, clipNorm: 1 },
    precision,
    remat: o.remat ?? 'none',
    ...(o.mesh ? { mesh: o.mesh } : {}),
    ...(o.zero !== undefined ? { zero: o.zero } : {}),
    ...(o.overlap !== undefined ? { overlap: o.overlap } : {}),
  });
  const images = new Float32Array(o.batch * c.imageSize * c.imageSize * c.channels);
  let x = 12345;
  for (let i = 0; i < images.length; ++i) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    images[i] = x / 2147483648 - 1;
  }
  const labels = Int32Array.from({ length: o.batch }, (_, i) => i % c.numClasses);
  let step = 0;
  const run = () => program.run({ images, labels }, { lr: 1e-4, step: ++step });
  for (let i = 0; i < (o.warmup ?? 2); ++i) await run();
  const times: number[] = [];
  const budget = (o.seconds ?? 0) * 1e3;
  const start = performance.now();
  while (times.length < 200 && (times.length < (o.steps ?? 5) || performance.now() - start < budget)) {
    const t0 = performance.now();
    await run();
    times.push((performance.now() - t0) / 1e3);
  }
  if (o.trace !== undefined) {
    // One more step, profiled, for its timeline (not counted in the times).
    program.setProfiling(true);
    try {
      await run();
      fs.writeFileSync(o.trace, JSON.stringify(program.timeline()) + '\n');
    } finally {
      program.setProfiling(false);
    }
  }
  times.sort((a, b) => a - b);
  const median = times[times.length >> 1]!;
  const modelFlopsPerImage = trainingFlopsPerImage(c).perImage;
  const launchedFlopsPerStep = planReport(program.main.lowered.plan, program.main.memory).flops;
  return {
    benchmark: 'step',
    model: o.name ?? 'custom',
    device: device.name,
    ...(device.kind === 'cpu' ? { threads: cpuThreads(device) } : {}),
    batch: o.batch,
    precision,
    optimizer: optimizer.kind,
    ...(o.mesh ? { mesh: { shape: o.mesh, zero: o.zero ?? 0, overlap: o.overlap ?? 'none' } } : {}),
    parameters: countParams(c).total,
    imagesPerSecond: o.batch / median,
    medianSecondsPerStep: median,
    steps: times.length,
    arenaBytes: program.memory.arenaBytes,
    modelFlopsPerImage,
    launchedFlopsPerStep,
    utilization: utilization({
      deviceName: device.name,
      deviceKind: device.kind,
      modelFlopsPerImage,
      imagesPerSecond: o.batch / median,
      launchedFlopsPerStep,
      secondsPerStep: median,
      peakOverride: o.peakTflops,
    }),
  };
}

function cpuThreads(device: Device): number | undefined {
  try {
    return loadedAddonAt(device.selection.addonPath)?.native.cpuInfo().kernelThreads;
  } catch {
    return undefined;
  }
}
