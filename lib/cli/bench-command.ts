import { benchGemm } from '../bench/gemm';
import { openDevice, type DeviceRequest } from '../runtime/device';
import { BENCH_STEP_USAGE, runBenchStep } from './bench-step';
import type { Command } from './commands';
import { parseOptions, usageError } from './parse-options';

const GEMM_USAGE = `usage: vit22b bench gemm --m M --n N --k K [--dtype f32|bf16] [--trans-a] [--trans-b]
                         [--device auto|cpu|cuda] [--seconds S] [--json]`;

const BENCH_USAGE = `${GEMM_USAGE}
${BENCH_STEP_USAGE.split('\n\n')[0]}

Measures a kernel or a whole training step on one device (the median of repeated calls after a
warm-up). Side-by-side comparisons with OpenBLAS and PyTorch: npm run bench:cpu (in a clone).
  gemm     C[M, N] (f32) = op(A)[M, K] op(B)[K, N]; --dtype is the storage of A and B; GFLOP/s
  step     a ViT training step (forward, backward, optimizer in one call); images/s`;

function positiveInt(value: string | undefined, name: string): number {
  const v = Number(value);
  if (value === undefined || !Number.isSafeInteger(v) || v < 1) {
    throw usageError(`--${name} must be a positive integer`, BENCH_USAGE, String(value));
  }
  return v;
}

export const benchCommand: Command = {
  name: 'bench',
  aliases: [],
  summary: 'measure a kernel (GFLOP/s) or a training step (images/s) on a device',
  usage: BENCH_USAGE,
  async run(args, io) {
    const [sub, ...rest] = args;
    if (sub === undefined) throw usageError('which benchmark?', BENCH_USAGE, '');
    if (sub === '--help' || sub === '-h') {
      io.out(BENCH_USAGE + '\n');
      return 0;
    }
    if (sub === 'step') return runBenchStep(rest, io);
    if (sub !== 'gemm') {
      throw usageError(`unknown benchmark '${sub}'`, BENCH_USAGE, sub);
    }
    const o = parseOptions(
      rest,
      {
        m: { type: 'string' },
        n: { type: 'string' },
        k: { type: 'string' },
        dtype: { type: 'string' },
        'trans-a': { type: 'boolean' },
        'trans-b': { type: 'boolean' },
        device: { type: 'string' },
        seconds: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      BENCH_USAGE,
    );
    if (o.help) {
      io.out(BENCH_USAGE + '\n');
      return 0;
    }
    const dtype = o.dtype ?? 'f32';
    if (dtype !== 'f32' && dtype !== 'bf16') {
      throw usageError(`--dtype must be f32 or bf16`, BENCH_USAGE, dtype);
    }
    const device = o.device ?? 'auto';
    if (!['auto', 'cpu', 'cuda'].includes(device)) {
      throw usageError(`--device must be auto, cpu or cuda`, BENCH_USAGE, device);
    }
    const seconds = o.seconds === undefined ? 1.5 : Number(o.seconds);
    if (!(seconds > 0 && seconds <= 600)) {
      throw usageError(`--seconds must be in (0, 600]`, BENCH_USAGE, String(o.seconds));
    }
    using dev = openDevice({ device: device as DeviceRequest });
    const r = benchGemm(dev, {
      m: positiveInt(o.m, 'm'),
      n: positiveInt(o.n, 'n'),
      k: positiveInt(o.k, 'k'),
      dtype,
      transA: o['trans-a'] ?? false,
      transB: o['trans-b'] ?? false,
      seconds,
    });
    if (o.json) {
      io.out(JSON.stringify(r, null, 2) + '\n');
    } else {
      const op = `${r.transA ? 'A^T' : 'A'} ${r.transB ? 'B^T' : 'B'}`;
      io.out(
        `gemm ${r.dtype} ${r.m}x${r.n}x${r.k} (C = ${op}) on ${r.device}: ${r.gflops.toFixed(1)} GFLOP/s` +
          ` (median ${(r.medianSeconds * 1e3).toFixed(3)} ms over ${r.calls} calls)\n`,
      );
    }
    return 0;
  },
};
