/**
 * fineTuneOverrides: the per-parameter lrMult / weightDecay of --head-lr-mult, --layer-decay and
 * --freeze body, checked name by name against the rule written out here, and resolved by the
 * optimizer's own override resolution (every key names a parameter).
 */
import { resolveOverrides } from '../../lib/graph/param-overrides';
import { getPreset, paramSpecs } from '../../lib/model';
import type { Vit22bError } from '../../lib/runtime/errors';
import { fineTuneOverrides } from '../../lib/train/finetune-overrides';
import { thrownBy } from '../helpers/errors';

const c = getPreset('tiny'); // depth 4, MAP head
const names = paramSpecs(c).map((s) => s.name);

test('no option gives the base overrides back', () => {
  expect(fineTuneOverrides(c, {}, { 'head/w': { weightDecay: 3 } })).toEqual({ 'head/w': { weightDecay: 3 } });
});

test('layer decay 0.5 with head-lr-mult 10: blocks d^(L-i), embeddings d^(L+1), top 1, head 10', () => {
  const r = resolveOverrides(names, 1e-4, fineTuneOverrides(c, { layerDecay: 0.5, headLrMult: 10 }, { 'head/w': { weightDecay: 7 } }));
  for (const n of names) {
    const m = /^block(\d)\//.exec(n);
    const want = m ? 0.5 ** (4 - Number(m[1])) : n.startsWith('embed/') || n === 'pos' ? 0.5 ** 5 : n.startsWith('head/') ? 10 : 1;
    expect({ n, lrMult: r.get(n)!.lrMult }).toEqual({ n, lrMult: want });
  }
  expect(r.get('head/w')!.weightDecay).toBe(7);
  expect(r.get('block0/norm/scale')!.weightDecay).toBe(1e-4);
});

test('freeze body: lr 0 and no decay everywhere but the classifier', () => {
  const r = resolveOverrides(names, 1e-4, fineTuneOverrides(c, { freeze: 'body', headLrMult: 2 }));
  for (const n of names) expect({ n, ...r.get(n)! }).toEqual(n.startsWith('head/') ? { n, lrMult: 2, weightDecay: 1e-4 } : { n, lrMult: 0, weightDecay: 0 });
});

test.each<[string, object]>([
  ['layerDecay', { layerDecay: 1.5 }],
  ['headLrMult', { headLrMult: -1 }],
  ['freeze', { freeze: 'head' }],
])('a bad %s is ERR_INVALID_ARGUMENT naming it', (field, o) => {
  const e = thrownBy(() => fineTuneOverrides(c, o as never)) as Vit22bError;
  expect([e.code, e.details.field]).toEqual(['ERR_INVALID_ARGUMENT', field]);
});
