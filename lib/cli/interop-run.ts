/**
 * What `vit22b predict` and `vit22b grad` share: the options, reading the config, the weights (our
 * names, or timm's through lib/io/timm-names) and the input file, compiling the model, and writing
 * the output file. Every bad file or shape is a typed error naming the file and the tensor.
 */
import { compile } from '../graph/compile';
import type { Program } from '../graph/program';
import { nativeToTimm, timmToNative, usesFusedOutProj, type NativeParams, type TimmStateDict } from '../io/timm-names';
import { readFloatTensor } from '../io/float-weights';
import { foldLayerScale } from '../io/timm-layer-scale';
import { checkOutputFile } from '../io/output-path';
import { SafetensorsFile, writeSafetensors, type SafetensorsTensor } from '../io/safetensors';
import type { ModelConfig } from '../model/config';
import { paramSpecs } from '../model/params';
import { buildVit } from '../model/vit';
import { openDevice, type DeviceRequest } from '../runtime/device';
import { Vit22bError } from '../runtime/errors';
import { choice } from './option-values';
import { usageError } from './parse-options';
import { resolveModel } from './model-option';

export const INTEROP_OPTION_SPEC = {
  config: { type: 'string' },
  images: { type: 'string' },
  checkpoint: { type: 'string' },
  labels: { type: 'string' },
  top: { type: 'string' },
  normalize: { type: 'string' },
  'crop-pct': { type: 'string' },
  precision: { type: 'string' },
  json: { type: 'boolean' },
  weights: { type: 'string' },
  'weights-format': { type: 'string' },
  input: { type: 'string' },
  output: { type: 'string' },
  layout: { type: 'string' },
  loss: { type: 'string' },
  device: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const INTEROP_OPTIONS_HELP = `  --config FILE             the model config (JSON); for timm weights set "gelu": "erf" (nn.GELU)
  --weights FILE            safetensors weights
  --weights-format FMT      native (default: our parameter names) | timm (VisionTransformer state dict)
  --input FILE              safetensors with images (F32, [B,H,W,C], or [B,C,H,W] with --layout nchw)
  --output FILE             safetensors to write
  --layout L                nhwc (default) | nchw (PyTorch's)
  --device KIND             auto (default) | cpu | cuda`;

export interface InteropArgs {
  config?: string;
  weights?: string;
  'weights-format'?: string;
  input?: string;
  output?: string;
  layout?: string;
  loss?: string;
  device?: string;
}

interface Loaded {
  config: ModelConfig;
  format: 'native' | 'timm';
  /** For timm weights: whether they use ParallelScalingBlock's fused out_proj (gradients follow). */
  fusedOutProj: boolean;
  params: NativeParams;
  images: Float32Array;
  labels: Int32Array | undefined;
  targets: Float32Array | undefined;
  batch: number;
  output: string;
  device: string;
}

function required(o: InteropArgs, name: 'config' | 'weights' | 'input' | 'output', usage: string): string {
  const v = o[name];
  if (v === undefined) throw usageError(`--${name} is required`, usage, 'missing');
  return v;
}

function fileError(file: string, tensor: string, message: string, expected: string, received: string, code: 'ERR_INVALID_ARGUMENT' | 'ERR_SHAPE_MISMATCH' | 'ERR_DTYPE_MISMATCH' = 'ERR_INVALID_ARGUMENT'): Vit22bError {
  return new Vit22bError(code, `${file}: ${message}`, { file, tensor, expected, received });
}

function readF32(f: SafetensorsFile, name: string): Float32Array {
  const e = f.entry(name);
  if (e.dtype !== 'F32') throw fileError(f.file, name, `${name} must be F32`, 'F32', e.dtype, 'ERR_DTYPE_MISMATCH');
  return f.readHost(name) as Float32Array;
}

/** `foldScale`: fold timm LayerScale into the projections (forward only: predict, never grad). */
export function readWeights(file: string, format: 'native' | 'timm', config: ModelConfig, foldScale = false): { params: NativeParams; fused: boolean } {
  using f = SafetensorsFile.open(file);
  if (format === 'timm') {
    let sd: TimmStateDict = new Map(f.names().map((n) => [n, { shape: f.entry(n).shape, data: readFloatTensor(f, n) }]));
    if (foldScale) sd = foldLayerScale(sd).sd;
    return { params: timmToNative(config, sd), fused: usesFusedOutProj(sd) };
  }
  const specs = paramSpecs(config);
  const known = new Set(specs.map((s) => s.name));
  const extra = f.names().filter((n) => !known.has(n));
  if (extra.length) throw fileError(file, extra[0]!, `tensors this model has no parameter for: ${extra.slice(0, 8).join(', ')}`, 'our parameter names', extra.join(', '));
  const params: NativeParams = new Map();
  for (const s of specs) {
    if (!f.has(s.name)) throw fileError(file, s.name, `no tensor for parameter ${s.name}`, s.name, 'absent');
    const shape = f.entry(s.name).shape;
    if (shape.join(',') !== s.shape.join(',')) throw fileError(file, s.name, `${s.name} has the wrong shape`, JSON.stringify(s.shape), JSON.stringify(shape), 'ERR_SHAPE_MISMATCH');
    params.set(s.name, readFloatTensor(f, s.name));
  }
  return { params, fused: false };
}

/** NCHW -> NHWC (our patchify reads channels last). */
function toNhwc(x: Float32Array, b: number, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let n = 0; n < b; ++n) for (let k = 0; k < c; ++k) for (let y = 0; y < h; ++y) for (let z = 0; z < w; ++z) out[((n * h + y) * w + z) * c + k] = x[((n * c + k) * h + y) * w + z]!;
  return out;
}

function readInput(file: string, config: ModelConfig, layout: string, needLabels: boolean, sigmoid: boolean): Pick<Loaded, 'images' | 'labels' | 'targets' | 'batch'> {
  using f = SafetensorsFile.open(file);
  const shape = f.entry('images').shape;
  const { imageSize: s, channels: c } = config;
  const expected = layout === 'nchw' ? [c, s, s] : [s, s, c];
  if (shape.length !== 4 || shape.slice(1).join(',') !== expected.join(',')) {
    throw fileError(file, 'images', `images must be [B, ${expected.join(', ')}] (${layout})`, `[B, ${expected.join(', ')}]`, JSON.stringify(shape), 'ERR_SHAPE_MISMATCH');
  }
  const batch = shape[0]!;
  const raw = readF32(f, 'images');
  const images = layout === 'nchw' ? toNhwc(raw, batch, c, s, s) : raw;
  let labels: Int32Array | undefined;
  if (f.has('labels')) {
    const e = f.entry('labels');
    if (e.dtype !== 'I32') throw fileError(file, 'labels', 'labels must be I32', 'I32', e.dtype, 'ERR_DTYPE_MISMATCH');
    if (e.shape.join(',') !== String(batch)) throw fileError(file, 'labels', 'labels must be [B]', `[${batch}]`, JSON.stringify(e.shape), 'ERR_SHAPE_MISMATCH');
    labels = f.readHost('labels') as Int32Array;
    const bad = labels.findIndex((l) => l < 0 || l >= config.numClasses);
    if (bad >= 0) throw fileError(file, 'labels', `label ${bad} is out of range`, `0..${config.numClasses - 1}`, String(labels[bad]));
  } else if (needLabels) {
    throw fileError(file, 'labels', 'the input needs labels (I32 [B])', 'labels', 'absent');
  }
  let targets: Float32Array | undefined;
  if (sigmoid && f.has('targets')) {
    const e = f.entry('targets');
    if (e.shape.join(',') !== `${batch},${config.numClasses}`) throw fileError(file, 'targets', 'targets must be [B, classes]', `[${batch}, ${config.numClasses}]`, JSON.stringify(e.shape), 'ERR_SHAPE_MISMATCH');
    targets = readF32(f, 'targets');
  } else if (sigmoid && labels) {
    // Without explicit multi-label targets, the labels as one-hot rows.
    targets = new Float32Array(batch * config.numClasses);
    labels.forEach((l, i) => (targets![i * config.numClasses + l] = 1));
  }
  return { images, labels, targets, batch };
}

export function loadInterop(o: InteropArgs, usage: string, mode: 'predict' | 'grad'): Loaded & { loss: 'softmax' | 'sigmoid' } {
  const config = resolveModel(undefined, required(o, 'config', usage)).config;
  const weights = required(o, 'weights', usage);
  const input = required(o, 'input', usage);
  const output = required(o, 'output', usage);
  // Checked before the weights are read and the model runs: a bad --output fails in a second.
  checkOutputFile(output);
  const format = choice(o['weights-format'], 'weights-format', ['native', 'timm'], 'native', usage) as 'native' | 'timm';
  const layout = choice(o.layout, 'layout', ['nhwc', 'nchw'], 'nhwc', usage);
  const loss = choice(o.loss, 'loss', ['softmax', 'sigmoid'], 'softmax', usage) as 'softmax' | 'sigmoid';
  const device = choice(o.device, 'device', ['auto', 'cpu', 'cuda'], 'auto', usage);
  const { params, fused } = readWeights(weights, format, config, mode === 'predict');
  const inputs = readInput(input, config, layout, mode === 'grad', mode === 'grad' && loss === 'sigmoid');
  return { config, format, fusedOutProj: fused, params, ...inputs, output, device, loss };
}

/** Compiles the model (forward, or a training step whose update is skipped by lr 0) and loads the weights. */
async function runModel(l: ReturnType<typeof loadInterop>, mode: 'predict' | 'grad'): Promise<{ out: Record<string, unknown>; grads?: NativeParams }> {
  using device = openDevice({ device: l.device as DeviceRequest });
  const { imageSize: s, channels: c, numClasses } = l.config;
  const sigmoid = mode === 'grad' && l.loss === 'sigmoid';
  const shapes: Record<string, number[]> = { images: [l.batch, s, s, c], labels: [l.batch] };
  if (sigmoid) shapes.targets = [l.batch, numClasses];
  const model = (b: Parameters<typeof buildVit>[0]): void => buildVit(b, l.config, { batch: l.batch, logits: true, features: true, loss: sigmoid ? 'sigmoid' : 'softmax' });
  const train = mode === 'grad' ? { loss: 'loss', optimizer: { kind: 'adamw' as const } } : undefined;
  using program: Program = compile(model, { device, inputShapes: shapes, train });
  for (const [n, v] of l.params) program.write(n, v);
  const inputs: Record<string, Float32Array | Int32Array> = { images: l.images, labels: l.labels ?? new Int32Array(l.batch) };
  if (l.targets) inputs.targets = l.targets;
  const out = await program.run(inputs, mode === 'grad' ? { lr: 0, step: 1 } : {});
  if (mode === 'predict') return { out };
  return { out, grads: new Map(program.parameterNames().map((n) => [n, program.read(`grad/${n}`) as Float32Array])) };
}

export async function runInterop(o: InteropArgs, usage: string, mode: 'predict' | 'grad'): Promise<{ output: string; tensors: Record<string, SafetensorsTensor> }> {
  const l = loadInterop(o, usage, mode);
  const { out, grads } = await runModel(l, mode);
  const tensors: Record<string, SafetensorsTensor> = {};
  if (mode === 'predict') {
    tensors.logits = { dtype: 'F32', shape: [l.batch, l.config.numClasses], data: out.logits as Float32Array };
    tensors.features = { dtype: 'F32', shape: [l.batch, l.config.width], data: out.features as Float32Array };
  } else {
    tensors.loss = { dtype: 'F32', shape: [], data: out.loss as Float32Array };
    if (l.format === 'timm') {
      for (const [n, t] of nativeToTimm(l.config, grads!, { gradients: true, fuseOutProj: l.fusedOutProj })) tensors[n] = { dtype: 'F32', shape: t.shape, data: t.data };
    } else {
      for (const s of paramSpecs(l.config)) tensors[s.name] = { dtype: 'F32', shape: s.shape, data: grads!.get(s.name)! };
    }
  }
  writeSafetensors(l.output, tensors);
  return { output: l.output, tensors };
}
