/**
 * `vit22b predict --images PATH`: classify image files with a checkpoint of ours (its model config,
 * class names and input normalization come from trainer.json) or with weights and a config (ours or
 * timm's), printing each image's top-k labels with their softmax probabilities, or JSON for scripts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { listImageFiles, readImageFiles } from '../data/image-files';
import { compile } from '../graph/compile';
import type { Precision } from '../graph/builder';
import type { Program } from '../graph/program';
import { checkpointError, loadCheckpoint, resolveCheckpoint, TRAINER_FILE } from '../io/checkpoint';
import { fromBf16 } from '../runtime/bf16';
import { validateConfig, type ModelConfig } from '../model/config';
import { buildVit } from '../model/vit';
import { openDevice, type DeviceRequest } from '../runtime/device';
import { Vit22bError } from '../runtime/errors';
import type { CliIO } from './io';
import { readWeights } from './interop-run';
import { resolveModel } from './model-option';
import { choice, positiveInt } from './option-values';
import { usageError } from './parse-options';
import { NORMALIZATIONS, NORMALIZE_KINDS } from './train-setup';

export const PREDICT_IMAGES_HELP = `  --images PATH             an image file, or a folder of them (JPEG, PNG, WebP; recursive)
  --checkpoint DIR          a checkpoint of vit22b train (a step-<n> or a folder of them: the
                            newest): its config, class names and normalization are used
  --labels FILE             class names, one a line (default: the checkpoint's, else indices)
  --top K                   labels shown per image (default 5)
  --normalize N             imagenet | inception | data (the checkpoint's; the default with
                            --checkpoint, imagenet otherwise)
  --crop-pct F              resize the shorter side to size / F, then centre-crop (default 1;
                            timm's eval transform uses 0.875 or 0.9)
  --precision P             fp32 (default) | bf16-mixed
  --json                    one JSON array on stdout: [{ file, predictions: [{ label, index,
                            probability }] }]`;

export interface PredictImagesArgs {
  images?: string;
  checkpoint?: string;
  config?: string;
  weights?: string;
  'weights-format'?: string;
  labels?: string;
  top?: string;
  normalize?: string;
  'crop-pct'?: string;
  precision?: string;
  device?: string;
  json?: boolean;
}

interface Task {
  classNames?: string[];
  normalize?: { mean: number[]; std: number[] };
}

interface Model {
  config: ModelConfig;
  /** Writes the weights into a compiled program. */
  load(program: Program): void;
  task: Task;
}

function fromCheckpoint(from: string): Model {
  const dir = resolveCheckpoint(from);
  const file = path.join(dir, TRAINER_FILE);
  let json: { config?: unknown; trainerState?: { task?: Task } };
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof json;
  } catch (e) {
    throw checkpointError(file, 'trainer-state-invalid', `cannot read the checkpoint's trainer.json: ${(e as Error).message}`);
  }
  const config = validateConfig(json.config);
  // The recorded config as written: loadCheckpoint compares it (and verifies every file's hash).
  return { config, task: json.trainerState?.task ?? {}, load: (p) => void loadCheckpoint(dir, p, { config: json.config, parametersOnly: true }) };
}

function readLabels(file: string, n: number): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Vit22bError('ERR_DATA_NOT_FOUND', `--labels ${file}: ${(e as Error).message}`, { file, searched: [file], expected: 'a text file, one class name a line', received: 'unreadable' });
  }
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length !== n) throw new Vit22bError('ERR_INVALID_ARGUMENT', `--labels ${file} has ${lines.length} names, the model ${n} classes`, { file, expected: `${n} lines`, received: `${lines.length} lines` });
  return lines;
}

/** Top k of one row of logits as softmax probabilities (float64). */
function topK(logits: Float32Array, row: number, classes: number, k: number): { index: number; probability: number }[] {
  const z = Array.from(logits.subarray(row * classes, (row + 1) * classes));
  const max = Math.max(...z);
  const e = z.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e
    .map((v, index) => ({ index, probability: v / sum }))
    .sort((a, b) => b.probability - a.probability || a.index - b.index)
    .slice(0, k);
}

const BATCH = 16;

export async function predictImages(o: PredictImagesArgs, usage: string, io: CliIO): Promise<number> {
  if (o.checkpoint !== undefined && (o.config !== undefined || o.weights !== undefined)) {
    throw usageError('give --checkpoint, or --config and --weights, not both', usage, `--checkpoint ${o.checkpoint}`);
  }
  let model: Model;
  if (o.checkpoint !== undefined) model = fromCheckpoint(o.checkpoint);
  else {
    if (o.config === undefined || o.weights === undefined) throw usageError('--images needs --checkpoint DIR, or --config FILE and --weights FILE', usage, 'missing');
    const config = resolveModel(undefined, o.config).config;
    const format = choice(o['weights-format'], 'weights-format', ['native', 'timm'], 'native', usage) as 'native' | 'timm';
    const { params } = readWeights(o.weights, format, config, true);
    model = { config, task: {}, load: (p) => params.forEach((v, n) => p.write(n, v)) };
  }
  const { config } = model;
  if (config.channels !== 1 && config.channels !== 3) throw usageError(`image files have 1 or 3 channels; the model takes ${config.channels}`, usage, String(config.channels));
  const k = Math.min(positiveInt(o.top, 'top', 5, usage, 1), config.numClasses);
  const kind = choice(o.normalize, 'normalize', NORMALIZE_KINDS, model.task.normalize ? 'data' : 'imagenet', usage);
  let normalize: { mean: readonly number[]; std: readonly number[] };
  if (kind === 'data') {
    if (!model.task.normalize) throw usageError('--normalize data needs a checkpoint that recorded its data statistics', usage, 'data');
    normalize = model.task.normalize;
  } else {
    const n = NORMALIZATIONS[kind as 'imagenet' | 'inception'];
    normalize = config.channels === 3 ? n : { mean: [n.mean[0]!], std: [n.std[0]!] };
  }
  const cropPct = o['crop-pct'] !== undefined ? Number(o['crop-pct']) : 1;
  if (!(cropPct > 0 && cropPct <= 1)) throw usageError('--crop-pct must be in (0, 1]', usage, String(o['crop-pct']));
  const names = o.labels !== undefined ? readLabels(o.labels, config.numClasses) : model.task.classNames?.length === config.numClasses ? model.task.classNames : Array.from({ length: config.numClasses }, (_, i) => String(i));
  const precision = choice(o.precision, 'precision', ['fp32', 'bf16-mixed'], 'fp32', usage) as Precision;
  const files = listImageFiles(o.images!);
  const images = await readImageFiles(files, { imageSize: config.imageSize, channels: config.channels as 1 | 3, cropPct, mean: normalize.mean, std: normalize.std });

  const s = config.imageSize;
  const c = config.channels;
  const batch = Math.min(BATCH, files.length);
  using device = openDevice({ device: choice(o.device, 'device', ['auto', 'cpu', 'cuda'], 'auto', usage) as DeviceRequest });
  using program = compile((b) => buildVit(b, config, { batch, logits: true }), { device, inputShapes: { images: [batch, s, s, c], labels: [batch] }, precision });
  model.load(program);
  const results: { file: string; predictions: { label: string; index: number; probability: number }[] }[] = [];
  const per = s * s * c;
  for (let start = 0; start < files.length; start += batch) {
    const n = Math.min(batch, files.length - start);
    // The last batch is padded with zeros; their rows are not read.
    const x = new Float32Array(batch * per);
    x.set(images.subarray(start * per, (start + n) * per));
    const out = await program.run({ images: x, labels: new Int32Array(batch) });
    // Under bf16-mixed the logits may come back as bf16 bits.
    const logits = out.logits instanceof Uint16Array ? fromBf16(out.logits) : (out.logits as Float32Array);
    for (let i = 0; i < n; ++i) {
      results.push({ file: files[start + i]!, predictions: topK(logits, i, config.numClasses, k).map((t) => ({ label: names[t.index]!, ...t })) });
    }
  }
  if (o.json) io.out(JSON.stringify(results, null, 2) + '\n');
  else for (const r of results) io.out(`${r.file}: ${r.predictions.map((p) => `${p.label} ${(100 * p.probability).toFixed(2)}%`).join(', ')}\n`);
  return 0;
}
