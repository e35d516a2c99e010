/**
 * `vit22b bench step --peer torch`: the same model written in PyTorch (bench/step_torch_gpu.py, in a
 * clone of the repository), timed the same way (warm-up steps, then the median of timed steps, each
 * ended by a device synchronization), eager and torch.compile, and the ratios vit22b / PyTorch.
 * The script prints one JSON object (its last line of stdout); this module finds a Python that has
 * torch, runs it, reads that object and lines its runs up against vit22b's.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { ModelConfig } from '../model';
import { packageRoot } from '../runtime/package-root';
import { utilization, type Utilization } from './mfu';

/** One timed configuration of the peer: eager or compiled. */
export interface TorchRun {
  mode: 'eager' | 'compile';
  batch?: number;
  /** The batch asked for, when out-of-memory made the script halve it. */
  batchRequested?: number;
  imagesPerSecond?: number;
  medianSecondsPerStep?: number;
  steps?: number;
  /** Seconds of the warm-up steps (for compile: tracing and code generation included). */
  warmupSeconds?: number;
  peakMemoryBytes?: number;
  /** Why this mode did not run (torch.compile missing, ...). */
  skipped?: string;
  /** Why it failed (out of memory at every batch tried, a compile error, ...). */
  error?: string;
}

export interface TorchPeerResult {
  /** "pytorch 2.5.1" */
  peer: string;
  device: string;
  parameters: number;
  precision: string;
  /** Features the script fell back from (no SDPA, no fused AdamW, ...), in words. */
  notes: string[];
  features: Record<string, unknown>;
  runs: TorchRun[];
}

export interface TorchPeerOptions {
  config: ModelConfig;
  batch: number;
  precision: 'fp32' | 'bf16-mixed';
  device: 'cpu' | 'cuda';
  modes: ('eager' | 'compile')[];
  steps: number;
  warmup: number;
  seconds: number;
  /** Kill the script after this long (default 8 minutes). */
  timeoutMs?: number;
  /** Python to use; default: $PYTHON, python3, /usr/bin/python3, the first that imports torch. */
  python?: string;
  /** The script; default bench/step_torch_gpu.py in the package root (a clone). */
  script?: string;
  /** The script's environment (default process.env). */
  env?: NodeJS.ProcessEnv;
}

const importsTorch = new Map<string, boolean>();

/** The first Python that can import torch, or undefined (each answer cached: importing torch is slow). */
export function findTorchPython(explicit?: string): string | undefined {
  const candidates = explicit ? [explicit] : [process.env.PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => !!p);
  return candidates.find((py) => {
    if (!importsTorch.has(py)) importsTorch.set(py, spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8', timeout: 120_000 }).status === 0);
    return importsTorch.get(py);
  });
}

export function peerScriptPath(): string {
  return path.join(packageRoot(), 'bench', 'step_torch_gpu.py');
}

/** The arguments the script takes for these options (exported for tests). */
export function peerArgs(o: TorchPeerOptions): string[] {
  return [
    '--config-json',
    JSON.stringify(o.config),
    '--batch',
    String(o.batch),
    '--precision',
    o.precision,
    '--device',
    o.device,
    '--modes',
    o.modes.join(','),
    '--steps',
    String(o.steps),
    '--warmup',
    String(o.warmup),
    '--seconds',
    String(o.seconds),
    '--shrink-on-oom',
  ];
}

/** Runs the peer; never throws: a missing Python or script, or a failed run, is `{ missing }`. */
export function runTorchPeer(o: TorchPeerOptions): TorchPeerResult | { missing: string } {
  const script = o.script ?? peerScriptPath();
  if (!fs.existsSync(script)) return { missing: `${script} not found (the PyTorch peer runs from a clone of the repository)` };
  const python = findTorchPython(o.python);
  if (!python) return { missing: 'no python3 with torch found ($PYTHON, python3, /usr/bin/python3)' };
  const r = spawnSync(python, [script, ...peerArgs(o)], {
    encoding: 'utf8',
    timeout: o.timeoutMs ?? 8 * 60_000,
    maxBuffer: 64 * 2 ** 20,
    env: o.env ?? process.env,
  });
  // The last JSON line: the final result, or after a timeout the script's results so far (it prints
  // them after each mode).
  const parsed = lastJsonLine(r.stdout ?? '') as (TorchPeerResult & { error?: string; partial?: boolean }) | undefined;
  if (!parsed) {
    if (r.error) return { missing: `${python} ${path.basename(script)}: ${r.error.message}` };
    const why = (r.stderr ?? '').trim().split('\n').slice(-3).join(' | ') || `exit ${r.status}`;
    return { missing: `${path.basename(script)} printed no result (exit ${r.status ?? r.signal}): ${why}` };
  }
  // The script's own refusal (torch without CUDA): one JSON object with `error` and no runs.
  if (typeof parsed.error === 'string') return { missing: `${parsed.peer ?? 'pytorch'}: ${parsed.error}` };
  if (parsed.partial || r.error) {
    const done = new Set(parsed.runs.map((x) => x.mode));
    const why = r.error ? `stopped after ${(o.timeoutMs ?? 8 * 60_000) / 1e3} s (${r.error.message})` : `exited early (${r.status ?? r.signal})`;
    for (const mode of o.modes) if (!done.has(mode)) parsed.runs.push({ mode, error: why });
    parsed.notes = [...parsed.notes, `the script ${why}; results so far`];
    delete parsed.partial;
  }
  return parsed;
}

function lastJsonLine(stdout: string): unknown {
  const lines = stdout.trim().split('\n');
  for (let i = lines.length - 1; i >= 0; --i) {
    const line = lines[i]!.trim();
    if (!line.startsWith('{')) continue;
    try {
      return JSON.parse(line);
    } catch {
      // a truncated line (killed mid-write): try the one before
    }
  }
  return undefined;
}

/** One row of the comparison: vit22b itself or a peer run, with MFU and vit22b's ratio to it. */
export interface ComparisonRow {
  name: string;
  batch?: number;
  imagesPerSecond?: number;
  medianSecondsPerStep?: number;
  utilization?: Utilization;
  /** vit22b images/s / this row's images/s. */
  ratio?: number;
  /** Why there is no figure. */
  missing?: string;
}

export interface OursForComparison {
  batch: number;
  imagesPerSecond: number;
  medianSecondsPerStep: number;
  utilization: Utilization;
}

/** vit22b's row, then one per peer run, each with MFU from the same FLOPs per image and card. */
export function comparePeer(
  ours: OursForComparison | { error: string },
  peer: TorchPeerResult | { missing: string },
  card: { deviceName: string; deviceKind: 'cpu' | 'cuda'; modelFlopsPerImage: number; peakOverride?: number },
): ComparisonRow[] {
  const rows: ComparisonRow[] = [];
  const ourRate = 'error' in ours ? undefined : ours.imagesPerSecond;
  rows.push(
    'error' in ours
      ? { name: 'vit22b', missing: ours.error }
      : { name: 'vit22b', batch: ours.batch, imagesPerSecond: ours.imagesPerSecond, medianSecondsPerStep: ours.medianSecondsPerStep, utilization: ours.utilization },
  );
  if ('missing' in peer) {
    rows.push({ name: 'pytorch', missing: peer.missing });
    return rows;
  }
  for (const run of peer.runs) {
    const name = `${peer.peer} ${run.mode}`;
    if (run.imagesPerSecond === undefined || !(run.imagesPerSecond > 0)) {
      rows.push({ name, missing: run.skipped ?? run.error ?? 'no figure' });
      continue;
    }
    rows.push({
      name,
      batch: run.batch,
      imagesPerSecond: run.imagesPerSecond,
      medianSecondsPerStep: run.medianSecondsPerStep,
      utilization: utilization({ ...card, imagesPerSecond: run.imagesPerSecond }),
      ...(ourRate !== undefined ? { ratio: ourRate / run.imagesPerSecond } : {}),
    });
  }
  return rows;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** The comparison as a text table. */
export function formatComparison(rows: ComparisonRow[]): string {
  const lines = [`  ${'run'.padEnd(28)} ${'images/s'.padStart(10)} ${'ms/step'.padStart(9)} ${'batch'.padStart(6)} ${'MFU'.padStart(7)} ${'HFU'.padStart(7)}  vit22b / it`];
  for (const r of rows) {
    if (r.missing !== undefined) {
      lines.push(`  ${r.name.padEnd(28)} -- ${r.missing}`);
      continue;
    }
    const u = r.utilization;
    const mfu = u && 'mfu' in u ? pct(u.mfu) : '-';
    const hfu = u && 'hfu' in u && u.hfu !== undefined ? pct(u.hfu) : '-';
    lines.push(
      `  ${r.name.padEnd(28)} ${r.imagesPerSecond!.toFixed(1).padStart(10)} ${(r.medianSecondsPerStep! * 1e3).toFixed(1).padStart(9)} ${String(r.batch ?? '-').padStart(6)} ${mfu.padStart(7)} ${hfu.padStart(7)}  ${r.ratio !== undefined ? `${r.ratio.toFixed(2)}x` : ''}`,
    );
  }
  return lines.join('\n');
}
