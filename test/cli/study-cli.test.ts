// `vit22b study qk-norm` end to end on synthetic data with a very small config: the three output
// files, and usage errors.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { cli } from '../helpers/cli-run';

test('writes the JSON record, the Markdown table and the SVG figure', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-study-'));
  const config = path.join(dir, 'model.json');
  fs.writeFileSync(config, JSON.stringify({ preset: 'tiny', width: 32, heads: 2, depth: 1, mlpDim: 64 }));
  const r = await cli(['study', 'qk-norm', '--config', config, '--data', 'synthetic', '--lrs', '0.001,0.01', '--steps', '10', '--batch', '16', '--stats-every', '5', '--out', dir, '--device', 'cpu']);
  expect(r.err).toContain('2 learning rates x 2');
  expect(r.code).toBe(0);
  expect(r.err.match(/^\[\d\/4\] lr /gm)).toHaveLength(4);
  const record = JSON.parse(fs.readFileSync(path.join(dir, 'qk-norm-study.json'), 'utf8'));
  expect(record.runs).toHaveLength(4);
  expect(record.runs[0].stats.map((s: { step: number }) => s.step)).toEqual([0, 5, 10]);
  const table = fs.readFileSync(path.join(dir, 'qk-norm-study.md'), 'utf8');
  expect(r.out).toContain(table);
  expect(table.trim().split('\n')).toHaveLength(4);
  expect(fs.readFileSync(path.join(dir, 'qk-norm-study.svg'), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
  fs.rmSync(dir, { recursive: true, force: true });
}, 120_000);

test('usage errors', async () => {
  expect((await cli(['study', 'other'])).code).not.toBe(0);
  const r = await cli(['study', 'qk-norm', '--lrs', '1e-3,x', '--data', 'synthetic']);
  expect(r.code).not.toBe(0);
  expect(r.err).toContain('--lrs');
  expect((await cli(['study', '--help'])).out).toContain('vit22b study qk-norm');
});
