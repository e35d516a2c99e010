// The PaLM model FLOPs, the peak table and MFU (lib/bench/mfu.ts), and the benchmark's workloads and
// automatic batch (lib/bench/workloads.ts). The expected figures are worked out by hand in the comments.
import { denseBf16Peak, trainingFlopsPerImage, utilization } from '../../lib/bench/mfu';
import { benchModel, largestFittingBatch, planStep, smallerBatch, usableBytes, withDepth } from '../../lib/bench/workloads';
import { countParams, getPreset } from '../../lib/model';

describe('trainingFlopsPerImage (PaLM: 6N + 12·L·H·Q·T per token)', () => {
  test('tiny: every parameter group counted by hand', () => {
    // Block: norm 64 + in 64x320 = 20480 + b_mlp 128 + q/k norms 2x16 + out 192x64 = 12288 + out/b 64
    //   = 33056; x 4 blocks = 132224. Per token also: final_norm 64, map/kv 64x128 + 128 = 8320
    //   -> N_token = 140608.
    // Per image: probe 64, map/q 4160, map/out 4160, map/norm 64, map/mlp/in 8320, map/mlp/out 8256,
    //   head 640 + 10 -> N_image = 25674.
    // Embeddings (left out): embed 16x64 + 64, pos 49x64 -> 4224; 140608 + 25674 + 4224 = 170506.
    // Attention: 12·L·(H·Q)·T² = 12·4·64·49² = 7375872, MAP 12·64·49 = 37632 -> 7413504.
    // Per image: 6·(140608·49 + 25674) + 7413504 = 6·6915466 + 7413504 = 48906300.
    const f = trainingFlopsPerImage(getPreset('tiny'));
    expect(f.tokens).toBe(49);
    expect(f.perTokenParams).toBe(140608);
    expect(f.perImageParams).toBe(25674);
    expect(f.nonEmbeddingParams).toBe(166282);
    expect(countParams(getPreset('tiny')).total - f.nonEmbeddingParams).toBe(4224);
    expect(f.attentionPerImage).toBe(7413504);
    expect(f.perImage).toBe(48906300);
  });

  test('ViT-B/16: 197 tokens with the class token, head once per image', () => {
    // Block: 2 LayerNorms 2x1536, qkv 768x2304 + 2304 = 1771776, proj 589824 + 768, fc1 2359296 + 3072,
    //   fc2 2359296 + 768 -> 7087872; x 12 = 85054464; + final norm 1536 -> N_token = 85056000.
    // Head 768x1000 + 1000 = 769000. Attention 12·12·768·197² = 4291964928.
    // 6·(85056000·197 + 769000) + 4291964928 = 100540806000 + 4291964928 = 104832770928 (~3 x 35 GFLOP).
    const f = trainingFlopsPerImage(getPreset('vit-b/16'));
    expect(f.tokens).toBe(197);
    expect(f.perTokenParams).toBe(85056000);
    expect(f.perImageParams).toBe(769000);
    expect(f.attentionPerImage).toBe(4291964928);
    expect(f.perImage).toBe(104832770928);
  });

  test('the ViT-22B-width stack agrees with the FLOPs its compiled plan launches (vit22b plan)', () => {
    // The plan counts GEMMs (the patch embedding's 4 FLOPs per weight included, norms not) and
    // attention backward recomputing QK^T (7/6 of the PaLM attention term): within 1% here.
    const { config } = benchModel('vit-22b-stack', 4)!;
    const f = trainingFlopsPerImage(config);
    expect(f.tokens).toBe(256);
    const launched = planStep(config, 2, { precision: 'bf16-mixed', remat: 'none', optimizer: { kind: 'adamw' } }).flops / 2;
    expect(Math.abs(launched / f.perImage - 1)).toBeLessThan(0.01);
    // ~2.93 TFLOP per image: at 65% of an H100 SXM's 989.4 TFLOP/s, about 220 images/s.
    expect(f.perImage / 1e12).toBeCloseTo(2.92, 1);
  });
});

describe('denseBf16Peak', () => {
  test.each([
    ['cuda:0 (NVIDIA H100 80GB HBM3)', 'H100 SXM', 989.4],
    ['NVIDIA H100 PCIe', 'H100 PCIe', 756],
    ['NVIDIA H200', 'H200', 989.4],
    ['NVIDIA A100-SXM4-80GB', 'A100', 312],
    ['NVIDIA A100 80GB PCIe', 'A100', 312],
  ])('%s -> %s', (name, card, tflops) => {
    expect(denseBf16Peak(name)).toEqual({ card, tflops });
  });

  test.each(['NVIDIA GH200 480GB', 'NVIDIA H100 NVL', 'NVIDIA L40S', 'cpu (AMD EPYC)'])('%s is unknown', (name) => {
    expect(denseBf16Peak(name)).toBeUndefined();
  });
});

describe('utilization', () => {
  test('MFU and HFU on an H100 SXM', () => {
    // 104832770928 FLOP/image x 3000 images/s = 314.498 TFLOP/s; / 989.4 = 0.317868.
    // HFU: 33 TFLOP per step in 0.1 s = 330 TFLOP/s; / 989.4 = 0.333535.
    const u = utilization({
      deviceName: 'cuda:0 (NVIDIA H100 80GB HBM3)',
      deviceKind: 'cuda',
      modelFlopsPerImage: 104832770928,
      imagesPerSecond: 3000,
      launchedFlopsPerStep: 33e12,
      secondsPerStep: 0.1,
    });
    expect(u).toMatchObject({ card: 'H100 SXM', peakTflops: 989.4 });
    if (!('mfu' in u)) throw new Error('no MFU');
    expect(u.mfu).toBeCloseTo(0.317868, 6);
    expect(u.hfu).toBeCloseTo(0.333535, 6);
  });

  test('an unknown card or the CPU: omitted with a note; --peak-tflops stands in', () => {
    expect(utilization({ deviceName: 'cuda:0 (NVIDIA L4)', deviceKind: 'cuda', modelFlopsPerImage: 1, imagesPerSecond: 1 })).toEqual({
      note: expect.stringMatching(/NVIDIA L4\) is not in the peak table/),
    });
    expect(utilization({ deviceName: 'cpu', deviceKind: 'cpu', modelFlopsPerImage: 1, imagesPerSecond: 1 })).toEqual({ note: expect.stringMatching(/CPU/) });
    // 48906300 FLOP/image x 1000 images/s / 0.5e12 = 0.0978126.
    const u = utilization({ deviceName: 'cpu', deviceKind: 'cpu', modelFlopsPerImage: 48906300, imagesPerSecond: 1000, peakOverride: 0.5 });
    expect('mfu' in u && u.mfu).toBeCloseTo(0.0978126, 7);
  });
});

describe('workloads', () => {
  test('vit-22b-stack: ViT-22B width at 224 px, depth 4 by default, other names unknown', () => {
    const s = benchModel('vit-22b-stack')!;
    expect(s.name).toBe('vit-22b-stack (depth 4)');
    expect(s.config).toMatchObject({ width: 6144, heads: 48, mlpDim: 24576, depth: 4, imageSize: 224, patchSize: 14, block: 'parallel', qkNorm: true });
    expect(benchModel('vit-22b-stack', 8)!.config.depth).toBe(8);
    expect(benchModel('vit-b/16')).toBeUndefined();
    expect(withDepth(getPreset('vit-l/16'), 2).depth).toBe(2);
    expect(() => withDepth(getPreset('tiny'), -1)).toThrow(/depth/);
  });

  test('largestFittingBatch: the largest candidate under the budget', () => {
    const o = { precision: 'bf16-mixed' as const, remat: 'none' as const, optimizer: { kind: 'adamw' as const } };
    const cfg = getPreset('tiny');
    const linear = (b: number) => 1000 + 100 * b; // fixed state + activations
    expect(largestFittingBatch(cfg, 1000 + 100 * 48, o, undefined, linear)).toBe(48);
    expect(largestFittingBatch(cfg, 1000 + 100 * 47, o, undefined, linear)).toBe(32);
    expect(largestFittingBatch(cfg, 1099, o, undefined, linear)).toBeUndefined();
    expect(largestFittingBatch(cfg, 1e12, o, undefined, linear)).toBe(1024);
    expect(smallerBatch(48)).toBe(32);
    expect(smallerBatch(1)).toBeUndefined();
    // 80 GiB card: 0.92 x 80 - 2 = 71.6 GiB usable.
    expect(usableBytes(80 * 2 ** 30) / 2 ** 30).toBeCloseTo(71.6, 6);
  });

  test('the real memory plan: depth 4 fits a batch in 80 GiB, depth 8 a smaller one', () => {
    const o = { precision: 'bf16-mixed' as const, remat: 'none' as const, optimizer: { kind: 'adamw' as const, weightDecay: 1e-4 } };
    const b4 = largestFittingBatch(benchModel('vit-22b-stack', 4)!.config, usableBytes(80 * 2 ** 30), o)!;
    const b8 = largestFittingBatch(benchModel('vit-22b-stack', 8)!.config, usableBytes(80 * 2 ** 30), o)!;
    expect(b4).toBeGreaterThanOrEqual(64);
    expect(b8).toBeGreaterThanOrEqual(1);
    expect(b8).toBeLessThan(b4);
  });
});
