/**
 * `vit22b study qk-norm`: the QK-norm stability study (lib/study/qk-norm.ts) from the command line.
 * Writes the results as JSON, a Markdown table and an SVG figure into --out.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { openDevice, type DeviceRequest } from '../runtime/device';
import { DEFAULT_STUDY_LRS, qkNormStudy, type StudyRun } from '../study/qk-norm';
import { studyFigure, studyTable } from '../study/qk-norm-report';
import { ensureOutputDir } from '../io/output-path';
import type { Command } from './commands';
import { loadData } from './data-option';
import { resolveModel } from './model-option';
import { choice, positiveInt } from './option-values';
import { parseOptions, usageError } from './parse-options';
import { numberList } from './probe-command';
import { fitToData } from './train-setup';

const STUDY_USAGE = `usage: vit22b study qk-norm [options]

Trains the same parallel-block ViT without and with QK-norm for each peak learning rate of a sweep
(AdamW, linear warmup, cosine decay, clipping 1, as vit22b train), recording the training loss and,
per block, the largest attention logit and the mean attention entropy on a fixed probe batch.
Writes OUT/qk-norm-study.json, OUT/qk-norm-study.md (a table) and OUT/qk-norm-study.svg (the plots).
  --preset NAME | --config FILE   the model (default tiny); its qkNorm setting is overridden
  --data KIND          fashion-mnist (default) | synthetic | a folder, as vit22b train
  --data-dir DIR       where fashion-mnist is looked for first
  --lrs LIST           peak learning rates (default ${DEFAULT_STUDY_LRS.join(',')})
  --steps N            steps per run (default 600)
  --batch B            images per step (default 128)
  --stats-every N      attention statistics every N steps (default 50)
  --seed S             initialization and data order, the same for every run (default 0)
  --device KIND        auto (default) | cpu | cuda
  --out DIR            where the results go (default ./qk-norm-study)
  --json               print the whole result as JSON on stdout`;

const OPTIONS = {
  preset: { type: 'string' },
  config: { type: 'string' },
  data: { type: 'string' },
  'data-dir': { type: 'string' },
  lrs: { type: 'string' },
  steps: { type: 'string' },
  batch: { type: 'string' },
  'stats-every': { type: 'string' },
  seed: { type: 'string' },
  device: { type: 'string' },
  out: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function runLine(r: StudyRun, i: number, total: number): string {
  const peak = Math.max(...r.stats.map((s) => Math.max(...s.maxLogit)));
  const outcome = r.status === 'diverged' ? `diverged at step ${r.divergedAt}` : `final loss ${r.finalLoss.toFixed(3)}`;
  return `[${i + 1}/${total}] lr ${r.lr} ${r.qkNorm ? 'QK-norm   ' : 'no QK-norm'}: ${outcome}, peak max logit ${peak.toFixed(1)} (${r.seconds.toFixed(0)} s)\n`;
}

export const studyCommand: Command = {
  name: 'study',
  aliases: [],
  summary: 'the QK-norm stability study: loss and attention logits over a learning-rate sweep',
  usage: STUDY_USAGE,
  async run(args, io) {
    const [which, ...rest] = args;
    if (which === '--help' || which === '-h') {
      io.out(STUDY_USAGE + '\n');
      return 0;
    }
    if (which !== 'qk-norm') throw usageError(`unknown study '${which ?? ''}'`, STUDY_USAGE, which ?? '(none)');
    const o = parseOptions(rest, OPTIONS, STUDY_USAGE);
    if (o.help) {
      io.out(STUDY_USAGE + '\n');
      return 0;
    }
    const model = resolveModel(o.preset, o.config);
    const seed = positiveInt(o.seed, 'seed', 0, STUDY_USAGE, 0);
    const data = await loadData({ data: o.data ?? 'fashion-mnist', dataDir: o['data-dir'], seed }, model.config);
    const config = fitToData(model.config, data.train.imageShape, data.train.numClasses, model.name);
    const out = path.resolve(o.out ?? 'qk-norm-study');
    // Before the 12-minute study: a --out that cannot be written fails now.
    ensureOutputDir(out);
    using device = openDevice({ device: choice(o.device, 'device', ['auto', 'cpu', 'cuda'], 'auto', STUDY_USAGE) as DeviceRequest });
    const lrs = o.lrs !== undefined ? numberList(o.lrs, 'lrs', STUDY_USAGE, false) : DEFAULT_STUDY_LRS;
    if (!o.json) io.err(`vit22b study qk-norm: ${model.name} on ${data.description}, ${device.name}, ${lrs.length} learning rates x 2\n`);
    const study = await qkNormStudy({
      device,
      config,
      train: data.train,
      test: data.test,
      lrs,
      steps: positiveInt(o.steps, 'steps', 600, STUDY_USAGE),
      batch: positiveInt(o.batch, 'batch', 128, STUDY_USAGE),
      statsEvery: positiveInt(o['stats-every'], 'stats-every', 50, STUDY_USAGE),
      seed,
      onRun: o.json ? undefined : (r, i, total) => io.err(runLine(r, i, total)),
    });
    const table = studyTable(study);
    const record = { model: model.name, data: data.description, device: device.name, ...study };
    // JSON has no NaN: a diverged run's final loss is written as null.
    fs.writeFileSync(path.join(out, 'qk-norm-study.json'), JSON.stringify(record, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
    fs.writeFileSync(path.join(out, 'qk-norm-study.md'), table);
    fs.writeFileSync(path.join(out, 'qk-norm-study.svg'), studyFigure(study));
    if (o.json) {
      io.out(fs.readFileSync(path.join(out, 'qk-norm-study.json'), 'utf8'));
    } else {
      io.out(table);
      io.out(`\n${study.runs.length} runs in ${(study.seconds / 60).toFixed(1)} min; results in ${out}/qk-norm-study.{json,md,svg}\n`);
    }
    return 0;
  },
};
