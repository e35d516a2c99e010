/**
 * The QK-norm study's outputs: a Markdown table (one row per learning rate, both arms side by side)
 * and an SVG figure (final loss against learning rate; the largest attention logit over training
 * for each learning rate, without and with QK-norm; the final attention entropy).
 */
import type { QkNormStudy, StudyRun } from './qk-norm';
import { svgFigure, sweepColors, type Panel, type Series } from './svg-chart';

const maxOf = (xs: number[]) => (xs.some((x) => Number.isNaN(x)) ? NaN : Math.max(...xs));
const minOf = (xs: number[]) => (xs.some((x) => Number.isNaN(x)) ? NaN : Math.min(...xs));

/** Largest attention logit over the blocks at each measured step. */
export function maxLogitCurve(run: StudyRun): [number, number][] {
  return run.stats.map((s) => [s.step, maxOf(s.maxLogit)]);
}

function fmt(x: number, digits = 3): string {
  return Number.isFinite(x) ? x.toFixed(digits) : String(x);
}

function cells(r: StudyRun | undefined): string[] {
  if (!r) return ['', '', '', ''];
  const last = r.stats[r.stats.length - 1]!;
  const peak = maxOf(r.stats.map((s) => maxOf(s.maxLogit)));
  const loss = r.status === 'diverged' ? `diverged (step ${r.divergedAt})` : fmt(r.finalLoss);
  return [loss, fmt(peak, 1), fmt(maxOf(last.maxLogit), 1), fmt(minOf(last.entropy), 2)];
}

export function studyTable(s: QkNormStudy): string {
  const find = (lr: number, qk: boolean) => s.runs.find((r) => r.lr === lr && r.qkNorm === qk);
  const head = '| peak lr | no QK-norm: final loss | max logit (peak) | max logit (end) | min entropy (end) | QK-norm: final loss | max logit (peak) | max logit (end) | min entropy (end) |';
  const rule = '|---:|---:|---:|---:|---:|---:|---:|---:|---:|';
  const rows = s.lrs.map((lr) => `| ${lr} | ${[...cells(find(lr, false)), ...cells(find(lr, true))].join(' | ')} |`);
  return [head, rule, ...rows].join('\n') + '\n';
}

export function studyFigure(s: QkNormStudy): string {
  const colors = sweepColors(s.lrs.length);
  const arm = (qk: boolean) => s.runs.filter((r) => r.qkNorm === qk);
  const lossPanel: Panel = {
    title: 'Final training loss',
    x: { label: 'peak learning rate', log: true },
    y: { label: 'loss (x: diverged)' },
    legend: 'top-left',
    series: [
      { name: 'no QK-norm', color: '#c0392b', points: arm(false).map((r) => [r.lr, r.status === 'diverged' ? NaN : r.finalLoss] as const) },
      { name: 'QK-norm', color: '#2471a3', points: arm(true).map((r) => [r.lr, r.status === 'diverged' ? NaN : r.finalLoss] as const) },
    ],
  };
  const allLogits = s.runs.flatMap((r) => maxLogitCurve(r).map((p) => p[1])).filter((v) => Number.isFinite(v) && v > 0);
  const yRange = { min: Math.min(...allLogits), max: Math.max(...allLogits) };
  const logitPanel = (qk: boolean): Panel => ({
    title: `Max attention logit, ${qk ? 'QK-norm' : 'no QK-norm'}`,
    x: { label: 'training step' },
    y: { label: 'largest logit over blocks', log: true, ...yRange },
    series: arm(qk).map((r) => ({ name: `lr ${r.lr}${r.status === 'diverged' ? ' (diverged)' : ''}`, color: colors[s.lrs.indexOf(r.lr)]!, points: maxLogitCurve(r) }) satisfies Series),
  });
  const entropyPanel: Panel = {
    title: 'Attention entropy at the end',
    x: { label: 'peak learning rate', log: true },
    y: { label: 'min over blocks (nats)', min: 0 },
    legend: 'bottom-left',
    series: [false, true].map((qk) => ({
      name: qk ? 'QK-norm' : 'no QK-norm',
      color: qk ? '#2471a3' : '#c0392b',
      points: arm(qk).map((r) => [r.lr, minOf(r.stats[r.stats.length - 1]!.entropy)] as const),
    })),
  };
  const c = s.config;
  const caption = `ViT ${c.width}w x ${c.depth} blocks, ${c.heads} heads, parallel, ${s.steps} steps of ${s.batch}, AdamW + cosine; statistics on a fixed probe batch.`;
  return svgFigure([lossPanel, entropyPanel, logitPanel(false), logitPanel(true)], { caption, columns: 2 });
}
