// Every data-free rule a kernel declares (lib/kernels/<kernel>.ts `checks`, and the rules of the
// records it reads) gives its typed error: the rule's `example` breaks a valid spec of the kernel
// (one of its cases, test/cases/<kernel>.ts, smallest first) and the launch must throw the rule's
// code with its message. A rule without an example fails here, so a new rule cannot go untested.
import type { Check, Field } from '../../lib/kernels/declare';
import { RECORDS } from '../../lib/kernels/records';
import { KERNEL_TABLE } from '../../lib/kernels/table.gen';
import { openDevice, Vit22bError, type DeviceTensor } from '../../lib';
import type { KernelCase, KernelCases } from '../cases/case-types';
import { thrownBy } from '../helpers/errors';

const device = openDevice({ device: 'cpu' });

afterAll(() => {
  expect(device.stats()).toMatchObject({ liveBuffers: 0, reclaimedByGc: 0 });
  device.dispose();
});

const CODES = { InvalidArgument: 'ERR_INVALID_ARGUMENT', ShapeMismatch: 'ERR_SHAPE_MISMATCH', DtypeMismatch: 'ERR_DTYPE_MISMATCH' };

interface Rule {
  check: Check;
  /** Where the example's patch goes: the spec itself, or the record field it is a rule of. */
  field?: string;
}

/** The kernel's own checks, then each record field's record rules. */
function rulesOf(fields: Record<string, Field>, checks: readonly Check[] | undefined): Rule[] {
  const rules: Rule[] = (checks ?? []).map((check) => ({ check }));
  for (const [name, fd] of Object.entries(fields)) {
    if (fd.kind !== 'record') continue;
    const rec = RECORDS[fd.record as keyof typeof RECORDS] as { checks?: readonly Check[] };
    for (const check of rec.checks ?? []) rules.push({ check, field: name });
  }
  return rules;
}

/** Cases smallest first: the cheapest valid spec that can show a rule. */
function casesOf(kernel: string): KernelCase[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const file = require(`../cases/${kernel}`) as { default: KernelCases };
  const size = (c: KernelCase) => Object.values(c.buffers).reduce((n, b) => n + b.size, 0);
  return [...file.default.cases].sort((a, b) => size(a) - size(b));
}

/** The text of a message up to its first interpolation. */
function fixedPart(message: string): string {
  const i = message.indexOf('${');
  return (i < 0 ? message : message.slice(0, i)).replaceAll('{field}', '');
}

/** Launches `c`'s spec patched by the rule's example; undefined when this case cannot show it. */
function brokenLaunch(kernel: string, c: KernelCase, rule: Rule): unknown | undefined {
  const tensors: DeviceTensor[] = [];
  try {
    const handles: Record<string, unknown> = {};
    for (const [name, b] of Object.entries(c.buffers)) {
      const t = device.alloc(b.dtype, [b.size]);
      tensors.push(t);
      handles[name] = t.buffer;
    }
    const spec = c.spec(handles);
    const patch = rule.field ? rule.check.example((spec[rule.field] as Record<string, unknown>) ?? {}) : rule.check.example(spec);
    if (patch === undefined) return undefined;
    const broken = rule.field ? { ...spec, [rule.field]: { ...((spec[rule.field] as object) ?? {}), ...patch } } : { ...spec, ...patch };
    // Specs the compiler would refuse are the point here: the untyped launch.
    const launch = device.native.launch.bind(device.native) as (kernel: string, spec: object) => void;
    return thrownBy(() => launch(kernel, broken));
  } finally {
    for (const t of tensors) t.dispose();
  }
}

for (const [kernel, decl] of Object.entries(KERNEL_TABLE)) {
  const d = decl as { fields: Record<string, Field>; checks?: readonly Check[] };
  const rules = rulesOf(d.fields, d.checks);
  describe(kernel, () => {
    rules.forEach((rule, i) => {
      const where = rule.field ? `${rule.field}: ` : '';
      test(`rule ${i}: ${where}${rule.check.message}`, () => {
        expect(typeof rule.check.example).toBe('function');
        const cases = casesOf(kernel);
        let error: unknown;
        for (const c of cases) {
          error = brokenLaunch(kernel, c, rule);
          if (error !== undefined) break;
        }
        if (error === undefined) throw new Error(`no case of test/cases/${kernel}.ts lets the example of '${rule.check.message}' break it`);
        expect(error).toBeInstanceOf(Vit22bError);
        expect((error as Vit22bError).code).toBe(CODES[rule.check.code ?? 'InvalidArgument']);
        const message = (error as Vit22bError).message;
        expect(message.startsWith(`${kernel} `)).toBe(true);
        expect(message).toContain(fixedPart(rule.check.message));
      });
    });
  });
}

test('every declared rule has an example that breaks it', () => {
  const missing: string[] = [];
  for (const [kernel, decl] of Object.entries(KERNEL_TABLE)) {
    const d = decl as { fields: Record<string, Field>; checks?: readonly Check[] };
    for (const r of rulesOf(d.fields, d.checks)) if (typeof r.check.example !== 'function') missing.push(`${kernel}: ${r.check.message}`);
  }
  expect(missing).toEqual([]);
});
