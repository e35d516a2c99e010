/**
 * Issue 20, class 5: what cannot work is refused before any memory is allocated. A step whose
 * planned memory is above what the device can supply (host RAM on the CPU) is ERR_HOST_OOM naming
 * both figures; a batch of 0 or a non-shape is ERR_INVALID_ARGUMENT; an input of the wrong size is
 * refused before a new variant's arena exists; config numbers must survive f32 / int32; a preset
 * name that is an Object.prototype key is an unknown preset.
 */
import { compile } from '../../lib/graph/compile';
import { getPreset, validateConfig } from '../../lib/model';
import { buildVit } from '../../lib/model/vit';
import { openDevice, type Device } from '../../lib/runtime';
import { Vit22bError } from '../../lib/runtime/errors';
import { checkMemoryFits, memorySupply } from '../../lib/runtime/memory-supply';
import { thrownBy, rejectionOf } from '../helpers/errors';
import { toyModel } from '../helpers/toy-data';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => device.dispose());

const TRAIN = { loss: 'loss', optimizer: { kind: 'adamw' as const } };

test('a step planned above the host memory: ERR_HOST_OOM with need and supply, nothing allocated', () => {
  const cfg = getPreset('tiny');
  const supply = memorySupply(device)!;
  // Enough images that the activations alone are far above any machine's RAM (still a cheap plan).
  const batch = 4_000_000;
  const before = device.stats().liveBytes;
  const e = thrownBy(() => compile((b) => buildVit(b, cfg, { batch }), { device, inputShapes: { images: [batch, 28, 28, 1], labels: [batch] }, train: TRAIN })) as Vit22bError;
  expect(e).toBeInstanceOf(Vit22bError);
  expect(e.code).toBe('ERR_HOST_OOM');
  expect(e.details.needBytes as number).toBeGreaterThan(supply.bytes);
  expect(e.expected).toMatch(/^at most \d+ bytes \(available host memory/);
  expect(e.received).toMatch(/^\d+ bytes needed$/);
  expect(e.message).toMatch(/smaller batch/);
  expect(device.stats().liveBytes).toBe(before);
});

test('batch 0, negative or fractional dimensions, and non-shapes: ERR_INVALID_ARGUMENT naming the input', () => {
  for (const shapes of [{ images: [0, 8, 8, 1], labels: [0] }, { images: [-1, 8, 8, 1], labels: [1] }, { images: [2.5, 8, 8, 1], labels: [2] }, { images: 'big', labels: [1] }]) {
    const e = thrownBy(() => compile(toyModel, { device, inputShapes: shapes as never, train: TRAIN })) as Vit22bError;
    expect(e).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', details: { field: 'inputShapes.images' }, expected: 'integers in [1, 2^31 - 1]' });
  }
  expect(thrownBy(() => compile(toyModel, { device, inputShapes: 5 as never, train: TRAIN }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', details: { field: 'inputShapes' } });
});

test('an input whose data does not match its shape is refused before the new variant allocates its arena', async () => {
  using p = compile(toyModel, { device, inputShapes: { images: [4, 8, 8, 1], labels: [4] }, train: TRAIN });
  const before = device.stats().liveBytes;
  const e = (await rejectionOf(p.run({ images: { data: new Float32Array(10), shape: [64, 8, 8, 1] }, labels: { data: new Int32Array(64), shape: [64] } }, { lr: 0.1, step: 1 }))) as Vit22bError;
  expect(e).toBeInstanceOf(Vit22bError);
  expect(e.code).toBe('ERR_SHAPE_MISMATCH');
  expect(p.variantCount).toBe(1);
  expect(device.stats().liveBytes).toBe(before);
});

describe('config numbers that do not survive f32 or int32', () => {
  test.each([
    ['normEps', 1e-300],
    ['normEps', 1e-40], // a subnormal f32
    ['normEps', 1e39],
    ['headBiasInit', -1e39],
    ['width', 2 ** 31],
    ['depth', 2 ** 40],
  ])('%s = %p: ERR_INVALID_CONFIG naming the field', (field, value) => {
    const e = thrownBy(() => getPreset('tiny', { [field]: value })) as Vit22bError;
    expect(e).toMatchObject({ code: 'ERR_INVALID_CONFIG', details: { field }, received: String(value) });
    expect(e.expected).toMatch(/f32|2147483647/);
  });

  test('the defaults and ordinary values still pass', () => {
    expect(getPreset('tiny', { normEps: 1e-6, headBiasInit: -6.9 }).normEps).toBe(1e-6);
  });
});

test("preset names and config keys that are Object.prototype's: unknown, not 'imageSize is missing'", () => {
  for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
    const e = thrownBy(() => getPreset(name)) as Vit22bError;
    expect(e).toMatchObject({ code: 'ERR_INVALID_CONFIG', details: { field: 'preset' }, received: name });
    expect(e.message).toContain('unknown model preset');
  }
  for (const key of ['constructor', 'toString', '__proto__']) {
    const raw = JSON.parse(`{"${key}": 1}`) as object;
    const e = thrownBy(() => validateConfig({ ...getPreset('tiny'), ...raw })) as Vit22bError;
    expect(e).toMatchObject({ code: 'ERR_INVALID_CONFIG', details: { field: key } });
  }
});

test('on CUDA the supply is the card less what this process holds in use: ERR_DEVICE_OOM naming both', () => {
  const card = {
    kind: 'cuda',
    name: 'a test card',
    selection: { memoryBytes: 80 * 2 ** 30 },
    stats: () => ({ liveBuffers: 0, liveBytes: 0, reclaimedByGc: 0, allocator: { allocatedBytes: 30 * 2 ** 30, cachedBytes: 5 * 2 ** 30 } }),
  } as unknown as Device;
  expect(memorySupply(card)).toMatchObject({ bytes: 50 * 2 ** 30 });
  expect(() => checkMemoryFits(card, 49 * 2 ** 30, { arena: 49 * 2 ** 30 })).not.toThrow();
  const e = thrownBy(() => checkMemoryFits(card, 51 * 2 ** 30, { arena: 40 * 2 ** 30, buffers: 11 * 2 ** 30 })) as Vit22bError;
  expect(e).toMatchObject({ code: 'ERR_DEVICE_OOM', received: `${51 * 2 ** 30} bytes needed`, details: { needBytes: 51 * 2 ** 30, supplyBytes: 50 * 2 ** 30 } });
  expect(e.expected).toContain(`at most ${50 * 2 ** 30} bytes`);
});
