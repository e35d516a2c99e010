/**
 * The README's error table (section "Errors") has a row for every code in ERROR_CODES, each with
 * what happened and what to do, and names no code that does not exist.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { ERROR_CODES } from '../../lib/runtime/errors';
import { REPO_ROOT } from '../helpers/paths';

const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('### Errors\n'), readme.indexOf('### Memory\n'));
const rows = section.split('\n').filter((l) => /^\| `ERR_/.test(l));

test('every code has a row with what happened and what to do', () => {
  const listed = new Set(rows.flatMap((r) => [...r.split('|')[1]!.matchAll(/`(ERR_[A-Z0-9_]+)`/g)].map((m) => m[1]!)));
  for (const code of ERROR_CODES) expect([code, listed.has(code)]).toEqual([code, true]);
  for (const code of listed) expect(ERROR_CODES).toContain(code);
  for (const r of rows) {
    const cells = r.split('|').slice(1, -1).map((c) => c.trim());
    expect(cells).toHaveLength(3);
    expect(cells.every((c) => c.length > 0)).toBe(true);
  }
});
