/** `vit22b bench step`: images per second of a whole training step (lib/bench/step.ts). */
import { benchStep } from '../bench/step';
import type { Precision } from '../graph/builder';
import type { RematPolicy } from '../graph/passes/remat';
import { openDevice, type DeviceRequest } from '../runtime/device';
import type { CliIO } from './io';
import { resolveModel } from './model-option';
import { parseOptions, usageError } from './parse-options';
import { choice, positiveInt } from './option-values';

export const BENCH_STEP_USAGE = `usage: vit22b bench step [--preset NAME | --config FILE] [--batch B] [--device auto|cpu|cuda]
                         [--optimizer adamw|adafactor] [--precision fp32|bf16-mixed]
                         [--remat none|selective|block] [--steps N] [--seconds S] [--json]

Times whole training steps (forward, backward, clipping, optimizer: one native call each) on random
inputs and prints images per second (batch / median step time). Defaults: --preset tiny --batch 128.
Threads: VIT22B_NUM_THREADS. Side by side with PyTorch: npm run bench:cpu (in a clone).`;

export async function runBenchStep(args: string[], io: CliIO): Promise<number> {
  const o = parseOptions(
    args,
    {
      preset: { type: 'string' },
      config: { type: 'string' },
      batch: { type: 'string' },
      device: { type: 'string' },
      optimizer: { type: 'string' },
      precision: { type: 'string' },
      remat: { type: 'string' },
      steps: { type: 'string' },
      seconds: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    BENCH_STEP_USAGE,
  );
  if (o.help) {
    io.out(BENCH_STEP_USAGE + '\n');
    return 0;
  }
  const model = resolveModel(o.preset, o.config);
  const device = choice(o.device, 'device', ['auto', 'cpu', 'cuda'], 'auto', BENCH_STEP_USAGE) as DeviceRequest;
  const optimizer = choice(o.optimizer, 'optimizer', ['adamw', 'adafactor'], 'adamw', BENCH_STEP_USAGE) as 'adamw' | 'adafactor';
  const seconds = o.seconds === undefined ? 0 : Number(o.seconds);
  if (!(seconds >= 0 && seconds <= 600)) throw usageError('--seconds must be in [0, 600]', BENCH_STEP_USAGE, String(o.seconds));
  using dev = openDevice({ device });
  const r = await benchStep(dev, {
    config: model.config,
    name: model.name,
    batch: positiveInt(o.batch, 'batch', 128, BENCH_STEP_USAGE),
    optimizer: optimizer === 'adamw' ? { kind: 'adamw', weightDecay: 1e-4 } : { kind: 'adafactor', weightDecay: 0.03 },
    precision: choice(o.precision, 'precision', ['fp32', 'bf16-mixed'], 'fp32', BENCH_STEP_USAGE) as Precision,
    remat: choice(o.remat, 'remat', ['none', 'selective', 'block'], 'none', BENCH_STEP_USAGE) as RematPolicy,
    steps: positiveInt(o.steps, 'steps', 5, BENCH_STEP_USAGE),
    seconds,
  });
  if (o.json) {
    io.out(JSON.stringify(r, null, 2) + '\n');
  } else {
    io.out(
      `training step of ${r.model} (${(r.parameters / 1e6).toFixed(2)}M parameters), batch ${r.batch}, ${r.precision}, ${r.optimizer}, on ${r.device}` +
        `${r.threads ? ` (${r.threads} threads)` : ''}: ${r.imagesPerSecond.toFixed(1)} images/s` +
        ` (median ${(r.medianSecondsPerStep * 1e3).toFixed(1)} ms per step over ${r.steps} steps)\n`,
    );
  }
  return 0;
}
