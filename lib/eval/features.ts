/**
 * Frozen features of a data set: the model's pooled pre-logits ([N, width]) from a forward-only
 * program, batch by batch, so only one batch of images is ever in float form; or, for the
 * raw-pixel baseline, the normalized pixels themselves ([N, H*W*C]).
 */
import { compile } from '../graph/compile';
import type { Program } from '../graph/program';
import type { DataLoader } from '../data/loader';
import { buildVit } from '../model/vit';
import type { ModelConfig } from '../model/config';
import type { Device } from '../runtime/device';
import { Vit22bError } from '../runtime/errors';
import type { FeatureMatrix } from './matrix';

export interface Features extends FeatureMatrix {
  x: Float32Array;
}

/**
 * A forward program with the model's parameters as buffers (load a checkpoint into it with
 * loadCheckpoint(..., { parametersOnly: true })) whose output `features` is the pre-logits.
 */
export function compileFeatureProgram(device: Device, config: ModelConfig, batch: number): Program {
  const s = config.imageSize;
  return compile((b, shapes) => buildVit(b, config, { batch: shapes.images![0]!, features: true }), {
    device,
    inputShapes: { images: [batch, s, s, config.channels], labels: [batch] },
  });
}

/** Reads the loader's epoch 0 in order; rows of a padded last batch beyond `valid` are dropped. */
async function collect(loader: DataLoader, dim: number, rowsOf: (images: Float32Array, size: number) => Promise<Float32Array>): Promise<Features> {
  if (loader.shuffle) throw new Vit22bError('ERR_INVALID_ARGUMENT', 'features: the loader must read in order (shuffle: false)', { expected: 'shuffle: false', received: 'shuffle: true' });
  const n = loader.dataset.size;
  const x = new Float32Array(n * dim);
  const labels = new Int32Array(n);
  let at = 0;
  for (let step = 0; step < loader.stepsPerEpoch; ++step) {
    const batch = loader.batchAt(step);
    const f = await rowsOf(batch.images, batch.size);
    x.set(f.subarray(0, batch.valid * dim), at * dim);
    labels.set(batch.labels.subarray(0, batch.valid), at);
    at += batch.valid;
  }
  if (at !== n) throw new Vit22bError('ERR_INTERNAL', 'features: the loader did not cover the data set once', { expected: String(n), received: String(at) });
  return { n, dim, x, labels };
}

/** Pre-logits features of every example of the loader's data set, in order. */
export async function extractFeatures(program: Program, loader: DataLoader, width: number): Promise<Features> {
  const [h, w, c] = loader.dataset.imageShape;
  return collect(loader, width, async (images, size) => {
    // Shapes given explicitly, so a short last batch runs as its own variant instead of failing.
    const inputs = { images: { data: images, shape: [size, h, w, c] }, labels: { data: new Int32Array(size), shape: [size] } };
    const out = await program.run(inputs, {}, { mode: 'forward' });
    const f = out.features;
    if (!(f instanceof Float32Array) || f.length !== size * width) {
      throw new Vit22bError('ERR_SHAPE_MISMATCH', 'features: the program must output F32 features [B, width]', { expected: `${size * width} values`, received: String(f?.length) });
    }
    return f;
  });
}

/** The normalized pixels of every example, flattened: the input of the raw-pixel baseline. */
export async function extractPixels(loader: DataLoader): Promise<Features> {
  const [h, w, c] = loader.dataset.imageShape;
  return collect(loader, h * w * c, async (images) => images);
}
