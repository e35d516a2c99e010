/**
 * Position-embedding resampling (lib/model/resample-pos.ts) on random tables against two independent
 * references: a float64 one written here as 1-D interpolation matrices (out = A_h G A_w^T per
 * channel, torch's align_corners=False source rule), and, where /usr/bin/python3 has torch, torch's
 * F.interpolate(mode='bilinear', align_corners=False) itself. Tolerance: 1e-6 relative to the largest
 * value (the f32 rounding of the result).
 */
import { spawnSync } from 'node:child_process';
import { resamplePosEmbed } from '../../lib/model/resample-pos';
import { normals } from '../helpers/graph-harness';
import { mulberry32 } from '../helpers/prng';
import { thrownBy } from '../helpers/errors';
import type { Vit22bError } from '../../lib/runtime/errors';

function interpMatrix(n: number, m: number): Float64Array {
  const a = new Float64Array(m * n);
  for (let o = 0; o < m; ++o) {
    const x = Math.max(0, ((o + 0.5) * n) / m - 0.5);
    const lo = Math.floor(x);
    a[o * n + lo]! += 1 - (x - lo);
    a[o * n + Math.min(lo + 1, n - 1)]! += x - lo;
  }
  return a;
}

function reference(pos: Float32Array, dim: number, prefix: number, gh: number, gw: number, th: number, tw: number): Float64Array {
  const ah = interpMatrix(gh, th);
  const aw = interpMatrix(gw, tw);
  const out = new Float64Array((prefix + th * tw) * dim);
  for (let i = 0; i < prefix * dim; ++i) out[i] = pos[i]!;
  for (let k = 0; k < dim; ++k)
    for (let y = 0; y < th; ++y)
      for (let x = 0; x < tw; ++x) {
        let s = 0;
        for (let u = 0; u < gh; ++u) for (let v = 0; v < gw; ++v) s += ah[y * gh + u]! * pos[(prefix + u * gw + v) * dim + k]! * aw[x * gw + v]!;
        out[(prefix + y * tw + x) * dim + k] = s;
      }
  return out;
}

const maxRel = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let d = 0;
  let s = 0;
  for (let i = 0; i < b.length; ++i) [d, s] = [Math.max(d, Math.abs(a[i]! - b[i]!)), Math.max(s, Math.abs(b[i]!))];
  return d / s;
};

const cases: [number, number, number, number, number][] = [
  // prefix, grid in (h, w), grid out (h, w)
  [1, 2, 2, 3, 3],
  [1, 14, 14, 24, 24],
  [0, 7, 7, 4, 4],
  [1, 4, 6, 5, 3],
  [0, 3, 3, 3, 3],
];

test.each(cases)('prefix %i, %ix%i -> %ix%i matches the float64 matrix reference', (prefix, gh, gw, th, tw) => {
  const dim = 5;
  const pos = normals(mulberry32(gh * 31 + th), (prefix + gh * gw) * dim);
  const ours = resamplePosEmbed(pos, dim, prefix, { height: gh, width: gw }, { height: th, width: tw });
  expect(maxRel(ours, reference(pos, dim, prefix, gh, gw, th, tw))).toBeLessThan(1e-6);
  if (prefix) expect(ours.subarray(0, dim)).toEqual(pos.subarray(0, dim));
  if (gh === th && gw === tw) expect(ours).toEqual(pos);
});

const torch = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
(torch ? test : test.skip)('matches torch F.interpolate(bilinear, align_corners=False) (skipped without python3-torch)', () => {
  for (const [, gh, gw, th, tw] of cases) {
    const pos = normals(mulberry32(gh + 7 * tw), gh * gw * 3);
    const script = `import sys, json, torch, torch.nn.functional as F
v = json.load(sys.stdin)
g = torch.tensor(v, dtype=torch.float64).reshape(1, ${gh}, ${gw}, 3).permute(0, 3, 1, 2)
o = F.interpolate(g, size=(${th}, ${tw}), mode='bilinear', align_corners=False, antialias=False)
print(json.dumps(o.permute(0, 2, 3, 1).reshape(-1).tolist()))`;
    const r = spawnSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify(Array.from(pos)), encoding: 'utf8' });
    expect(r.status).toBe(0);
    const ref = JSON.parse(r.stdout) as number[];
    expect(maxRel(resamplePosEmbed(pos, 3, 0, { height: gh, width: gw }, { height: th, width: tw }), ref)).toBeLessThan(1e-6);
  }
});

test('a table that does not match its grid is ERR_SHAPE_MISMATCH', () => {
  const e = thrownBy(() => resamplePosEmbed(new Float32Array(11), 2, 1, { height: 2, width: 2 }, { height: 3, width: 3 })) as Vit22bError;
  expect(e.code).toBe('ERR_SHAPE_MISMATCH');
});
