/**
 * "Shapes and orientations": a built-in, procedurally generated data set, so `vit22b train` can
 * learn something with no files at all. Ten classes of grey shapes (bars at four angles, square,
 * disk, triangle, plus, ring, pair of dots) drawn at a random position, size, thickness, rotation
 * jitter, contrast and noise level.
 *
 * Why these: telling them apart needs shape and orientation, i.e. spatial structure a model must
 * learn; sizes and contrasts are drawn so that classes overlap in mean brightness and in area, and
 * random positions blur any per-pixel template (a nearest-centroid classifier on raw pixels is well
 * above chance but far from perfect: test/data/synthetic.test.ts measures both). At 28x28 every
 * shape is at least ~7 pixels across, so a small ViT can still separate them.
 *
 * Every image is a pure function of (seed, index): generation is reproducible, order-free, and
 * could be done lazily. Labels are index mod 10, so every class has the same count (to within one).
 */
import { Vit22bError } from '../runtime/errors';
import { channelStats, type Dataset } from './dataset';
import { hashWords, Mulberry32, STREAM } from './seeded-random';
import { requireObject } from '../runtime/arg-checks';

// Module-level aliases: inside jest's vm sandbox every `Math.x` in a hot loop is a slow global
// lookup (generation ran 25x slower there); a module constant costs nothing anywhere.
const { abs, imul, sqrt } = Math;

export const SYNTHETIC_CLASSES: readonly string[] = [
  'horizontal bar',
  'rising diagonal bar',
  'vertical bar',
  'falling diagonal bar',
  'square',
  'disk',
  'triangle',
  'plus',
  'ring',
  'pair of dots',
];

export interface SyntheticOptions {
  /** Number of images. */
  size: number;
  seed: number;
  /** Side of the square images; 28 (Fashion-MNIST's) by default. Shapes scale with it. */
  imageSize?: number;
}

const DEG = Math.PI / 180;
/** Bars and the axis-aligned shapes turn by up to this much either way: less than half the 45 degrees between bar classes. */
const JITTER = 10 * DEG;

/** Parameters of one shape, in pixels of the actual image. */
interface Shape {
  cls: number;
  cx: number;
  cy: number;
  /** cos and sin of the rotation. */
  cos: number;
  sin: number;
  /** Class-specific sizes: half-length / radius (a) and half-thickness / second size (b). */
  a: number;
  b: number;
  /** Dot pair: the dots' offset from the centre, in the shape's frame. */
  ox: number;
  oy: number;
}

function uniform(rng: Mulberry32, lo: number, hi: number): number {
  return lo + (hi - lo) * rng.next();
}

/** Signed distance of a point (u, v) (already in the shape's frame) to a centred box of half sizes (hx, hy). */
function boxDistance(u: number, v: number, hx: number, hy: number): number {
  const qx = abs(u) - hx;
  const qy = abs(v) - hy;
  const ox = qx > 0 ? qx : 0;
  const oy = qy > 0 ? qy : 0;
  const inside = qx > qy ? qx : qy;
  return sqrt(ox * ox + oy * oy) + (inside < 0 ? inside : 0);
}

const SQRT3 = sqrt(3);

/** Signed distance to an equilateral triangle of half-side r centred on its centroid (Quilez's closed form). */
function triangleDistance(u: number, v: number, r: number): number {
  let px = abs(u) - r;
  let py = v + r / SQRT3;
  if (px + SQRT3 * py > 0) {
    const nx = (px - SQRT3 * py) / 2;
    const ny = (-SQRT3 * px - py) / 2;
    px = nx;
    py = ny;
  }
  px -= px < -2 * r ? -2 * r : px > 0 ? 0 : px;
  const len = sqrt(px * px + py * py);
  return py > 0 ? -len : len;
}

/**
 * Signed distance (in pixels, negative inside) to the shape from the point (u, v), given in the
 * shape's own frame (centred and rotated). Takes scalars, not the Shape, so that V8 keeps them in
 * registers: this runs for every pixel near a shape.
 */
function shapeDistance(cls: number, u: number, v: number, a: number, b: number, ox: number, oy: number): number {
  switch (cls) {
    case 0:
    case 1:
    case 2:
    case 3:
      return boxDistance(u, v, a, b);
    case 4:
      return boxDistance(u, v, a, a);
    case 5:
      return sqrt(u * u + v * v) - a;
    case 6:
      return triangleDistance(u, v, a);
    case 7: {
      const d1 = boxDistance(u, v, a, b);
      const d2 = boxDistance(u, v, b, a);
      return d1 < d2 ? d1 : d2;
    }
    case 8:
      return abs(sqrt(u * u + v * v) - a) - b;
    default: {
      const pu = u - ox;
      const pv = v - oy;
      const qu = u + ox;
      const qv = v + oy;
      const d1 = pu * pu + pv * pv;
      const d2 = qu * qu + qv * qv;
      return sqrt(d1 < d2 ? d1 : d2) - a;
    }
  }
}

/**
 * Draws the class's size parameters (in pixels of a 28-pixel image, times `k`) and returns the
 * shape with the radius of a circle around it, which bounds where it is drawn and where its centre may go.
 */
function drawShape(cls: number, rng: Mulberry32, k: number): { shape: Shape; radius: number } {
  let angle = uniform(rng, -JITTER, JITTER);
  let a = 0;
  let b = 0;
  let ox = 0;
  let oy = 0;
  let radius: number;
  switch (cls) {
    case 0:
    case 1:
    case 2:
    case 3:
      // Image y points down, so a positive angle turns clockwise on screen: -45 degrees rises.
      angle += -cls * 45 * DEG;
      a = uniform(rng, 6, 11) * k;
      b = uniform(rng, 0.9, 2.2) * k;
      radius = Math.hypot(a, b);
      break;
    case 4:
      a = uniform(rng, 3.5, 7.5) * k;
      radius = a * Math.SQRT2;
      break;
    case 5:
      a = uniform(rng, 3.5, 8) * k;
      radius = a;
      break;
    case 6:
      // Any orientation: a triangle is a triangle however it points.
      angle = uniform(rng, 0, 2 * Math.PI);
      a = uniform(rng, 4.5, 8.5) * k; // half-side; the circumradius is 2a/sqrt(3)
      radius = (2 * a) / SQRT3;
      break;
    case 7:
      a = uniform(rng, 5, 10) * k;
      b = uniform(rng, 0.9, 2) * k;
      radius = Math.hypot(a, b);
      break;
    case 8:
      a = uniform(rng, 5, 10) * k;
      b = uniform(rng, 0.9, 2) * k; // half-thickness, so the hole is at least 3 pixels across
      radius = a + b;
      break;
    default: {
      a = uniform(rng, 1.6, 3) * k; // dot radius
      const half = uniform(rng, a / k + 1.5, 7) * k; // centre to each dot: a visible gap between them
      const phi = uniform(rng, 0, 2 * Math.PI);
      ox = half * Math.cos(phi);
      oy = half * Math.sin(phi);
      radius = half + a;
    }
  }
  return { shape: { cls, cx: 0, cy: 0, cos: Math.cos(angle), sin: Math.sin(angle), a, b, ox, oy }, radius };
}

/**
 * Renders example `index` of the synthetic set with this seed into `out` at `offset` (S*S bytes)
 * and returns its label.
 */
export function renderSyntheticImage(seed: number, index: number, imageSize: number, out: Uint8Array, offset: number): number {
  const size = imageSize;
  const cls = index % SYNTHETIC_CLASSES.length;
  const rng = new Mulberry32(hashWords(STREAM.synthetic, seed, index));
  const k = size / 28;
  const { shape, radius } = drawShape(cls, rng, k);
  // The centre keeps the whole shape (and one pixel of margin) inside the image.
  const lo = radius + 1;
  const hi = size - radius - 1;
  shape.cx = hi > lo ? uniform(rng, lo, hi) : size / 2;
  shape.cy = hi > lo ? uniform(rng, lo, hi) : size / 2;
  const background = uniform(rng, 0, 50);
  const contrast = uniform(rng, 90, 255 - background);
  // Triangular noise from one 32-bit draw per pixel: two 16-bit uniforms summed and centred have
  // a standard deviation of 0.408 of their half-range, hence the factor.
  const sigma = uniform(rng, 0, 20);
  const noiseScale = sigma / 0.40824829 / 65535;
  // Only pixels near the shape need its distance; the rest are background and noise.
  const x0 = Math.max(0, Math.floor(shape.cx - radius - 1));
  const x1 = Math.min(size, Math.ceil(shape.cx + radius + 1));
  const y0 = Math.max(0, Math.floor(shape.cy - radius - 1));
  const y1 = Math.min(size, Math.ceil(shape.cy + radius + 1));
  // The noise generator is mulberry32 inlined on a local state: a method call per pixel costs
  // twice as much, and this loop is most of the generator's time.
  let state = rng.nextU32() | 0;
  const { cos, sin, a, b, ox, oy } = shape;
  for (let y = 0; y < size; y++) {
    const row = offset + y * size;
    const nearY = y >= y0 && y < y1;
    // The pixel centre (x0 + 0.5, y + 0.5) in the shape's frame; each step right adds (cos, -sin).
    const dx0 = x0 + 0.5 - shape.cx;
    const dy = y + 0.5 - shape.cy;
    let u = dx0 * cos + dy * sin;
    let v = -dx0 * sin + dy * cos;
    for (let x = 0; x < size; x++) {
      // + 0.5 so that truncating below rounds (Math.round is several times slower here).
      let value = background + 0.5;
      if (nearY && x >= x0 && x < x1) {
        // Coverage of the pixel by the shape, from the distance at its centre: a one-pixel
        // ramp, i.e. anti-aliased edges, so sizes below a pixel step still change the image.
        const d = shapeDistance(cls, u, v, a, b, ox, oy);
        value += contrast * (d <= -0.5 ? 1 : d >= 0.5 ? 0 : 0.5 - d);
        u += cos;
        v -= sin;
      }
      state = (state + 0x6d2b79f5) | 0;
      let t = imul(state ^ (state >>> 15), state | 1);
      t ^= t + imul(t ^ (t >>> 7), t | 61);
      const r = (t ^ (t >>> 14)) >>> 0;
      value += ((r & 0xffff) + (r >>> 16) - 65535) * noiseScale;
      out[row + x] = value < 1 ? 0 : value >= 255 ? 255 : value | 0;
    }
  }
  return cls;
}

/**
 * Generates the whole set in memory: images [size, S, S, 1], labels, and the set's own pixel
 * statistics (normalize an evaluation set with its training set's statistics; see Dataset).
 */
export function syntheticDataset(options: SyntheticOptions): Dataset {
  const { size, seed } = requireObject(options, 'syntheticDataset options', '{ size, seed }');
  const imageSize = options.imageSize ?? 28;
  const check = (field: string, ok: boolean, expected: string, value: unknown): void => {
    if (!ok) {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', `syntheticDataset: ${field} must be ${expected}`, {
        field,
        expected,
        received: String(value),
      });
    }
  };
  check('size', Number.isSafeInteger(size) && size >= 0, 'a non-negative integer', size);
  check('seed', Number.isSafeInteger(seed) && seed >= 0, 'a non-negative integer', seed);
  check('imageSize', Number.isSafeInteger(imageSize) && imageSize >= 8 && imageSize <= 1024, 'an integer in [8, 1024]', imageSize);
  const pixels = imageSize * imageSize;
  const images = new Uint8Array(size * pixels);
  const labels = new Int32Array(size);
  for (let i = 0; i < size; i++) labels[i] = renderSyntheticImage(seed, i, imageSize, images, i * pixels);
  const { mean, std } = channelStats(images, 1);
  return {
    name: 'synthetic-shapes',
    imageShape: [imageSize, imageSize, 1],
    numClasses: SYNTHETIC_CLASSES.length,
    classNames: SYNTHETIC_CLASSES,
    size,
    images,
    labels,
    mean,
    std,
    source: `synthetic shapes (seed ${seed}, ${imageSize}x${imageSize})`,
  };
}
