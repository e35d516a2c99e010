/**
 * Model configurations: validation errors name the field; presets match the published sizes; the
 * parameter counts come from the same specs the model is built from and match the paper (ViT-22B's
 * 21,743,271,936 block-matrix parameters) and timm (ViT-B/16's 86,567,656), computed independently here.
 */
import { countParams, getPreset, paramSpecs, presetNames, validateConfig, Vit22bError, type ModelConfig } from '../../lib';
import { thrownBy } from '../helpers/errors';

function expectConfigError(e: unknown, field: string): void {
  expect(e).toBeInstanceOf(Vit22bError);
  expect((e as Vit22bError).code).toBe('ERR_INVALID_CONFIG');
  expect((e as Vit22bError).details.field).toBe(field);
  expect((e as Vit22bError).expected).toBeTruthy();
}

describe('validateConfig', () => {
  const tiny = getPreset('tiny');
  test('relations and fields', () => {
    expectConfigError(thrownBy(() => validateConfig({ ...tiny, heads: 5 })), 'heads');
    expectConfigError(thrownBy(() => validateConfig({ ...tiny, patchSize: 5 })), 'patchSize');
    expectConfigError(thrownBy(() => validateConfig({ ...tiny, pool: 'max' })), 'pool');
    expectConfigError(thrownBy(() => validateConfig({ ...tiny, depth: -1 })), 'depth');
    expectConfigError(thrownBy(() => validateConfig({ ...tiny, width: 64.5 })), 'width');
    expectConfigError(thrownBy(() => validateConfig({ ...tiny, qkNorm: 'yes' })), 'qkNorm');
    expectConfigError(thrownBy(() => validateConfig({ ...tiny, dropout: 0.1 })), 'dropout');
    const { mlpDim: _m, ...missing } = tiny;
    expectConfigError(thrownBy(() => validateConfig(missing)), 'mlpDim');
    expectConfigError(thrownBy(() => getPreset('vit-q/3')), 'preset');
    expect(validateConfig({ ...tiny })).toEqual(tiny);
  });
});

describe('presets and parameter counts', () => {
  test('every preset is valid and its specs have unique names', () => {
    for (const name of presetNames()) {
      const c = getPreset(name);
      const names = paramSpecs(c).map((s) => s.name);
      expect(new Set(names).size).toBe(names.length);
    }
  });

  test('ViT-22B: 21,743,271,936 block-matrix parameters (the paper), and the full count', () => {
    const c = getPreset('vit-22b/14');
    expect([c.width, c.depth, c.mlpDim, c.heads, c.patchSize]).toEqual([6144, 48, 24576, 48, 14]);
    const counts = countParams(c);
    expect(counts.blockMatrices).toBe(21743271936);
    // Independently: blocks (matrices, MLP biases, norm scale, QK-norm scales of 128 each), the patch
    // embedding with bias, 256 learned positions, the final norm, the MAP head and the classifier.
    const D = 6144, F = 24576, L = 48, C = 1000;
    const blocks = L * (4 * D * D + 2 * D * F + F + D + D + 2 * 128);
    const embed = 14 * 14 * 3 * D + D + 256 * D;
    const map = D + (D * D + D) + (D * 2 * D + 2 * D) + (D * D + D) + D + (D * F + F) + (F * D + D);
    expect(counts.total).toBe(blocks + embed + D + map + D * C + C);
    expect(counts.total - counts.byGroup.map! - counts.byGroup.head!).toBeGreaterThan(21.74e9);
    expect(counts.total - counts.byGroup.map! - counts.byGroup.head!).toBeLessThan(21.76e9); // "about 21.750B"
    expect(counts.byGroup.map!).toBeGreaterThan(0.4e9); // "a MAP head adds about 0.45B"
    expect(counts.byGroup.map!).toBeLessThan(0.5e9);
  });

  test('ViT-B/16 totals 86,567,656 parameters, as timm vit_base_patch16_224', () => {
    expect(countParams(getPreset('vit-b/16')).total).toBe(86567656);
  });

  test('ViT-L/16 (304.3M) and ViT-H/14 (632.0M) agree with their published sizes', () => {
    expect(countParams(getPreset('vit-l/16')).total).toBe(304326632);
    expect(Math.round(countParams(getPreset('vit-h/14')).total / 1e5) / 10).toBe(632.0);
  });

  test('fused projections: the parallel block holds [D, 3D + F] and [D + F, D]', () => {
    const c: ModelConfig = getPreset('tiny');
    const specs = new Map(paramSpecs(c).map((s) => [s.name, s.shape]));
    expect(specs.get('block0/in/w')).toEqual([64, 3 * 64 + 128]);
    expect(specs.get('block0/out/w')).toEqual([64 + 128, 64]);
    expect(specs.has('block0/in/b_qkv')).toBe(false);
    expect(specs.get('block0/qnorm/scale')).toEqual([16]);
  });
});
