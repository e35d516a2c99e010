#!/usr/bin/env node
// Generates, from the kernel declarations in lib/kernels/ (lib/kernels/declare.ts says the language):
//   native/generated/kernels_gen.h     enums, records, argument structs, VIT_KERNELS
//   native/generated/launchers_gen.cc  one launcher per kernel (spec reading, checks, aliasing)
//   lib/kernels/table.gen.ts           the declarations as one typed table, for KernelSpec<K>
// Run by scripts/build.mjs before the native builds and by `npm run build:ts` before tsup. Files
// are rewritten only when their text changes, so make/ninja rebuild nothing needlessly.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const KDIR = path.join(root, 'lib', 'kernels');
const NOT_KERNELS = new Set(['declare.ts', 'enums.ts', 'records.ts', 'mesh-fields.ts', 'table.gen.ts', 'spec.ts', 'index.ts']);

function fail(msg) {
  console.error(`[gen-kernels] error: ${msg}`);
  process.exit(1);
}

// ---- loading the declarations (TypeScript, bundled in memory by esbuild) ----

function kernelFiles() {
  return fs
    .readdirSync(KDIR)
    .filter((f) => f.endsWith('.ts') && !NOT_KERNELS.has(f))
    .sort();
}

function load() {
  const esbuild = require('esbuild');
  const files = kernelFiles();
  const entry = [
    `export { ENUMS } from './enums';`,
    `export { RECORDS } from './records';`,
    ...files.map((f, i) => `import k${i} from './${f.replace(/\.ts$/, '')}';`),
    `export const KERNELS = [${files.map((_, i) => `k${i}`).join(', ')}];`,
  ].join('\n');
  const out = esbuild.buildSync({
    stdin: { contents: entry, resolveDir: KDIR, loader: 'ts' },
    bundle: true,
    format: 'cjs',
    platform: 'node',
    write: false,
    logLevel: 'silent',
  });
  const mod = { exports: {} };
  new Function('module', 'exports', 'require', out.outputFiles[0].text)(mod, mod.exports, require);
  const { ENUMS, RECORDS, KERNELS } = mod.exports;
  KERNELS.forEach((k, i) => {
    const expected = files[i].replace(/\.ts$/, '');
    if (!k || k.name !== expected) fail(`lib/kernels/${files[i]} must default-export the declaration of kernel '${expected}' (got '${k && k.name}')`);
  });
  return { ENUMS, RECORDS, KERNELS, files };
}

// ---- expressions ----

const FUNCS = new Set(['has', 'is', 'size', 'max', 'min']);

/**
 * A C++ expression from a declaration's Expr. `scope` maps a spec name (or record.path) to
 * { cpp, kind, field }. Integers are wrapped in Ck (overflow-checked); other helper functions
 * (lowercase names not in scope) pass through to native/addon/kernel_exprs.h.
 */
function cppExpr(src, scope, ctx) {
  const tokens = src.match(/'[^']*'|[A-Za-z_][A-Za-z0-9_]*(?:(?:\.|::)[A-Za-z_][A-Za-z0-9_]*)*|\d+(?:\.\d+)?(?:e[+-]?\d+)?|&&|\|\||[=!<>]=|[-+*/%()?:<>!,]/g);
  if (!tokens || tokens.join('').replace(/\s/g, '') !== src.replace(/\s/g, '')) fail(`${ctx}: cannot parse expression '${src}'`);
  let out = '';
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (/^[A-Za-z_]/.test(t)) {
      if (FUNCS.has(t) && tokens[i + 1] === '(') {
        const close = tokens.indexOf(')', i);
        const args = tokens.slice(i + 2, close).join('').split(',');
        if (t === 'has') out += hasExpr(args[0], scope, ctx);
        else if (t === 'is') out += isExpr(args[0], args[1], scope, ctx);
        else if (t === 'size') out += `Ck(static_cast<int64_t>(dtypeSize(${ref(args[0], scope, ctx).cpp})))`;
        else out += `ck${t === 'max' ? 'Max' : 'Min'}(${cppExpr(args[0], scope, ctx)}, ${cppExpr(args[1], scope, ctx)})`;
        i = close;
        continue;
      }
      if (tokens[i + 1] === '(' || t.includes('::')) {
        out += t; // a helper of native/addon/spec_readers.h, or an enumerator
        continue;
      }
      const r = ref(t, scope, ctx);
      out += r.kind === 'count' || r.kind === 'int' ? `Ck(${r.cpp})` : r.cpp;
      continue;
    }
    if (/^\d/.test(t)) {
      out += t.includes('.') || t.includes('e') ? t : `Ck(${t})`;
      continue;
    }
    if (t.startsWith("'")) fail(`${ctx}: string literals only inside is(field, 'value'): '${src}'`);
    out += t === '?' || t === ':' ? ` ${t} ` : t;
  }
  return out;
}

function ref(name, scope, ctx) {
  const r = scope[name.trim()];
  if (!r) fail(`${ctx}: unknown field '${name.trim()}' (known: ${Object.keys(scope).join(', ')})`);
  return r;
}

function hasExpr(name, scope, ctx) {
  const r = ref(name, scope, ctx);
  if (!r.has) fail(`${ctx}: has(${name}) needs an optional field`);
  return `(${r.has})`;
}

function isExpr(name, value, scope, ctx) {
  const r = ref(name, scope, ctx);
  const v = value.trim().replace(/^'|'$/g, '');
  if (r.kind === 'dtype') {
    if (!DTYPE_CPP[v]) fail(`${ctx}: '${v}' is not a dtype`);
    return `(${r.cpp} == ${DTYPE_CPP[v]})`;
  }
  if (r.kind !== 'enum') fail(`${ctx}: is(${name}, ...) needs an enum or dtype field`);
  const e = enumOf(r.field.type);
  if (!(v in e.values)) fail(`${ctx}: ${r.field.type} has no value '${v}'`);
  return `(${r.cpp} == ${e.name}::${e.values[v]})`;
}

/** A message template: C++ string concatenation, ${expr} printed as integers (or text). */
function cppTemplate(text, scope, ctx) {
  const parts = [];
  let last = 0;
  for (const m of text.matchAll(/\$\{([^}]*)\}/g)) {
    if (m.index > last) parts.push(JSON.stringify(text.slice(last, m.index)));
    parts.push(`exprText(${cppExpr(m[1], scope, ctx)})`);
    last = m.index + m[0].length;
  }
  if (last < text.length || parts.length === 0) parts.push(JSON.stringify(text.slice(last)));
  return `std::string(${parts.join(') + std::string(')})`;
}

// ---- declarations -> C++ types ----

let ENUMS = {};
let RECORDS = {};

function enumOf(name) {
  const e = ENUMS[name];
  if (!e) fail(`unknown enum '${name}' (lib/kernels/enums.ts)`);
  return e;
}

function recordOf(name) {
  const r = RECORDS[name];
  if (!r) fail(`unknown record '${name}' (lib/kernels/records.ts)`);
  return r;
}

const DTYPE_CPP = { f32: 'DType::F32', bf16: 'DType::BF16', i32: 'DType::I32', u8: 'DType::U8' };
const ELEM_CPP = { f32: 'float', i32: 'int32_t', u8: 'uint8_t' };

/** The member type of a buffer: typed for fixed dtypes, const for inputs, or the declared one. */
function pointerType(fd) {
  if (fd.pointer) return fd.pointer;
  const elem = DTYPE_CPP[fd.dtype] ? ELEM_CPP[fd.dtype] ?? 'void' : 'void';
  return fd.role === 'in' ? `const ${elem}*` : `${elem}*`;
}

function cppNumber(x) {
  if (x === undefined) return undefined;
  const s = String(x);
  return /[.e]/.test(s) ? `${s}f` : `${s}.0f`;
}

/** Struct members of one field: [type, name, default, comment][]. */
function members(name, fd, owner) {
  const doc = fd.doc ?? '';
  switch (fd.kind) {
    case 'dtype': {
      const def = typeof fd.default === 'string' ? fd.default : fd.allowed[0];
      return [['DType', name, DTYPE_CPP[def], doc]];
    }
    case 'enum': {
      const e = enumOf(fd.type);
      const def = fd.default ?? fd.values[0];
      return [[e.name, name, `${e.name}::${e.values[def]}`, doc]];
    }
    case 'count':
      return [['int64_t', name, String(fd.default ?? 0), doc]];
    case 'number':
      return [['float', name, cppNumber(fd.default ?? 0), doc]];
    case 'bool':
      return [['bool', name, String(fd.default ?? false), doc]];
    case 'u64':
      return [['uint64_t', name, '0', doc]];
    case 'words':
      return [['uint32_t', `${name}[${fd.length}]`, `{${Array(fd.length).fill('0').join(', ')}}`, doc]];
    case 'text':
      return [['const char*', name, JSON.stringify(fd.default), doc ? `${doc} (owned by the caller for the call)` : '']];
    case 'dynamic': {
      const t = fd.type === 'f32' ? 'float' : 'int64_t';
      const def = fd.type === 'f32' ? cppNumber(fd.default ?? 0) : String(fd.default ?? 0);
      return [
        [t, name, def, doc],
        [`const ${t}*`, `${name}Ptr`, 'nullptr', `dynamic ${name}: read from here when set (see "Dynamic scalar fields")`],
      ];
    }
    case 'buffer': {
      return [[pointerType(fd), name, 'nullptr', doc]];
    }
    case 'headView':
      return [
        [fd.role === 'in' ? 'const void*' : 'void*', name, 'nullptr', doc],
        ['HeadStrides', `${name}Strides`, undefined, ''],
      ];
    case 'record':
    case 'flat':
      return [[recordOf(fd.record).name, name, undefined, doc]];
    case 'list':
      return [
        ['int64_t', fd.count, '0', `entries of ${name}`],
        [`const ${recordOf(fd.record).name}*`, name, 'nullptr', doc ? `${doc} (host memory owned by the caller for the call)` : ''],
      ];
    case 'columns':
      return [
        ['int64_t', fd.count, '0', 'entries of each array'],
        ['const DType*', fd.dtypes.name, 'nullptr', `[${fd.count}] ${fd.dtypes.allowed.join(' | ')}`],
        ['const int64_t*', fd.sizes, 'nullptr', `[${fd.count}] elements`],
        ['const void* const*', fd.buffers, 'nullptr', `[${fd.count}] ${doc}`],
      ];
    case 'derived':
      return [[fd.type, name, fd.init, doc]];
    default:
      fail(`${owner}: field '${name}' has unknown kind '${fd.kind}'`);
  }
}

function comment(text, indent = '') {
  return text
    .trim()
    .split('\n')
    .map((l) => `${indent}// ${l}`.trimEnd())
    .join('\n');
}

function structText(name, doc, fields, owner) {
  const lines = [comment(doc), `struct ${name} {`];
  for (const [fname, fd] of Object.entries(fields)) {
    for (const [t, n, def, c] of members(fname, fd, owner)) {
      lines.push(`  ${t} ${n}${def === undefined ? '' : ` = ${def}`};${c ? `  // ${c.replace(/\n/g, ' ')}` : ''}`);
    }
  }
  lines.push('};');
  return lines.join('\n');
}

function headerText(kernels) {
  const out = [
    '// GENERATED by scripts/gen-kernels.mjs from lib/kernels/*.ts: do not edit. Included by kernels.h.',
    '#pragma once',
    '',
    '#include <cstdint>',
    '',
    '#include "core/dtype.h"',
    '',
    'namespace vit {',
    '',
  ];
  for (const e of Object.values(ENUMS)) {
    out.push(comment(e.doc), `enum class ${e.name} : uint8_t {`);
    Object.values(e.values).forEach((v, i) => out.push(`  ${v} = ${i},`));
    out.push('};', '');
  }
  for (const r of Object.values(RECORDS)) out.push(structText(r.name, r.doc, r.fields, r.name), '');
  const seen = new Map();
  for (const k of kernels) {
    const text = structText(k.struct, k.doc, k.fields, k.name);
    if (seen.has(k.struct)) {
      const body = (s) => s.slice(s.indexOf('struct '));
      if (body(seen.get(k.struct)) !== body(text)) fail(`kernels ${k.name} and another declare struct ${k.struct} with different fields`);
      continue;
    }
    seen.set(k.struct, text);
    out.push(text, '');
  }
  out.push('// X(Id, function name, argument struct, launch name)', '#define VIT_KERNELS(X) \\');
  kernels.forEach((k, i) => {
    const id = k.fn[0].toUpperCase() + k.fn.slice(1);
    out.push(`  X(${id}, ${k.fn}, ${k.struct}, "${k.name}")${i + 1 < kernels.length ? ' \\' : ''}`);
  });
  out.push('', '}  // namespace vit', '');
  return out.join('\n');
}

// ---- launchers ----

/**
 * The code that reads `fields` from the JS object `obj` into the C++ lvalue `target`, appending to
 * `st` ({ lines, scope, operands, dynamics, captures }). `prefix` names fields in messages and
 * scope keys ('' at the top, 'hyper.' inside a flat record, 'tensors[i].' for list items).
 */
function readFields(fields, obj, target, st, prefix, scopePrefix, ctx) {
  for (const [name, fd] of Object.entries(fields)) {
    const cpp = `${target}.${name}`;
    const key = `${scopePrefix}${name}`;
    const label = `${prefix}${name}`;
    const L = (s) => st.lines.push(`  ${st.indent}${s}`);
    switch (fd.kind) {
      case 'dtype': {
        const allowed = `{${fd.allowed.map((d) => DTYPE_CPP[d]).join(', ')}}`;
        if (fd.optional) {
          const def = typeof fd.default === 'string' ? DTYPE_CPP[fd.default] : ref(fd.default.field, st.scope, ctx).cpp;
          L(`${cpp} = hasProp(${obj}, "${name}") ? dtypeProp(${obj}, k, "${label}", ${allowed}, "${name}") : ${def};`);
        } else {
          L(`${cpp} = dtypeProp(${obj}, k, "${label}", ${allowed}, "${name}");`);
        }
        st.scope[key] = { cpp, kind: 'dtype', field: fd, has: fd.optional ? `hasProp(${obj}, "${name}")` : undefined };
        break;
      }
      case 'enum': {
        const e = enumOf(fd.type);
        const names = fd.values.map((v) => `{"${v}", ${e.name}::${e.values[v]}}`).join(', ');
        const read = `enumProp<${e.name}>(${obj}, k, "${label}", {${names}}, "${name}")`;
        if (fd.optional) {
          st.lines.push(`  ${st.indent}const bool has_${key.replace(/\W/g, '_')} = hasProp(${obj}, "${name}");`);
          L(`${cpp} = has_${key.replace(/\W/g, '_')} ? ${read} : ${e.name}::${e.values[fd.default]};`);
        } else {
          L(`${cpp} = ${read};`);
        }
        st.scope[key] = { cpp, kind: 'enum', field: fd, has: fd.optional ? `has_${key.replace(/\W/g, '_')}` : undefined };
        break;
      }
      case 'count':
        if (fd.optional) L(`${cpp} = hasProp(${obj}, "${name}") ? countProp(${obj}, "${name}") : ${fd.default ?? 0};`);
        else L(`${cpp} = countProp(${obj}, "${name}");`);
        st.scope[key] = { cpp, kind: 'count', field: fd, has: fd.optional ? `hasProp(${obj}, "${name}")` : undefined };
        break;
      case 'number': {
        const r = fd.range;
        const read = r
          ? `static_cast<float>(scalarProp(${obj}, k, "${label}", ${r.lo}, ${r.hi}, ${!!r.hiOpen}, "${name}"))`
          : `static_cast<float>(numberProp(${obj}, "${name}"))`;
        if (fd.optional) L(`${cpp} = hasProp(${obj}, "${name}") ? ${read} : ${cppNumber(fd.default ?? 0)};`);
        else L(`${cpp} = ${read};`);
        st.scope[key] = { cpp, kind: 'number', field: fd };
        break;
      }
      case 'bool':
        if (fd.optional) L(`${cpp} = hasProp(${obj}, "${name}") ? boolProp(${obj}, "${name}") : ${!!fd.default};`);
        else L(`${cpp} = boolProp(${obj}, "${name}");`);
        st.scope[key] = { cpp, kind: 'bool', field: fd };
        break;
      case 'u64':
        L(`${cpp} = u64Prop(${obj}, k, "${name}");`);
        st.scope[key] = { cpp, kind: 'u64', field: fd };
        break;
      case 'words':
        L(`wordsProp(${obj}, k, "${name}", ${cpp}, ${fd.length});`);
        break;
      case 'text': {
        const v = `text_${key.replace(/\W/g, '_')}`;
        L(`auto ${v} = std::make_shared<std::string>(hasProp(${obj}, "${name}") ? stringProp(${obj}, "${name}") : ${JSON.stringify(fd.default)});`);
        st.captures.push(v);
        st.resolve.push(`${cpp} = ${v}->c_str();`);
        break;
      }
      case 'dynamic': {
        const v = `dyn_${key.replace(/\W/g, '_')}`;
        const r = fd.range;
        L(`const exec::DynamicScalar ${v} = dynamicScalarProp(ctx, ${obj}, k, "${name}", {${r.lo}, ${r.hi}, ${!!r.hiOpen}, ${!!r.integer}});`);
        st.captures.push(v);
        st.resolve.push(`${cpp} = ${v}.resolve${fd.type === 'f32' ? 'F32' : 'I64'}(run, ${cpp}Ptr);`);
        break;
      }
      case 'buffer':
      case 'headView':
        st.buffers.push({ name, key, label, fd, obj, cpp, scopePrefix });
        st.scope[key] = { cpp: `op_${key.replace(/\W/g, '_')}`, kind: 'buffer', field: fd, has: `hasProp(${obj}, "${name}")` };
        break;
      case 'record': {
        const rec = recordOf(fd.record);
        const o = `obj_${key.replace(/\W/g, '_')}`;
        if (fd.optional) {
          L(`if (hasProp(${obj}, "${name}")) {`);
          st.indent += '  ';
        }
        L(`const Napi::Object ${o} = objectProp(${obj}, k, "${label}", "${Object.keys(rec.fields).join(', ')}");`);
        readFields(rec.fields, o, cpp, st, `${label}.`, `${key}.`, ctx);
        // The record's own rules, while its object is at hand; '{field}' in their texts names it.
        if (rec.checks) {
          const scope = { ...st.scope };
          for (const [k2, r] of Object.entries(st.scope)) if (k2.startsWith(`${key}.`)) scope[k2.slice(key.length + 1)] = r;
          const named = rec.checks.map((c) => ({ ...c, message: c.message.replaceAll('{field}', label) }));
          const saved = st.scope;
          st.scope = scope;
          emitChecks(st, named, `${ctx} ${name}`);
          st.scope = saved;
        }
        if (fd.optional) {
          st.indent = st.indent.slice(2);
          L('}');
        }
        st.scope[key] = { cpp, kind: 'record', field: fd };
        break;
      }
      case 'flat': {
        readFields(recordOf(fd.record).fields, obj, cpp, st, prefix, `${key}.`, ctx);
        st.scope[key] = { cpp, kind: 'record', field: fd };
        break;
      }
      case 'list':
        st.lists.push({ name, key, fd, obj, cpp });
        break;
      case 'columns':
        st.columns.push({ name, key, fd, obj });
        break;
      case 'derived':
        st.derived.push({ name, key, fd, cpp });
        break;
      default:
        fail(`${ctx}: unknown field kind '${fd.kind}'`);
    }
  }
}

/** A buffer's name in messages, as a C++ expression: its label, or one built per list item. */
function labelOf(b) {
  return b.labelCpp ?? JSON.stringify(b.label);
}

/** Resolves the buffers collected in st.buffers (after every scalar and check), then aliasing. */
function emitBuffers(st, ctx) {
  const L = (s) => st.lines.push(`  ${st.indent}${s}`);
  for (const b of st.buffers) {
    const v = `op_${b.key.replace(/\W/g, '_')}`;
    const fd = b.fd;
    // Inside a record, its own fields are named without the record's prefix.
    const scope = { ...st.scope };
    if (b.scopePrefix) {
      for (const [key, r] of Object.entries(st.scope)) if (key.startsWith(b.scopePrefix)) scope[key.slice(b.scopePrefix.length)] = r;
    }
    const dtype = DTYPE_CPP[fd.dtype] ?? ref(fd.dtype, scope, ctx).cpp;
    if (fd.kind === 'headView') {
      L(`const HeadView ${v} = headViewProp(ctx, ${b.obj}, k, ${labelOf(b)}, {${dtype}, a.batch, ${ref(fd.tokens, scope, ctx).cpp}, a.heads, a.headDim});`);
      st.assign.push(`${b.cpp} = ${v}.address;`, `${b.cpp}Strides = ${v}.strides;`);
      st.operands.push({ name: b.name, v: `${v}.operand`, role: fd.role, view: v });
      continue;
    }
    L(`CkScope ck_${v}(k, std::string("operand ") + ${labelOf(b)});`);
    const need = `Need(elementsFor(k, ${labelOf(b)}, (${cppExpr(fd.elements, scope, `${ctx} ${b.name}.elements`)}).v, ${dtype}), ${dtype})`;
    if (!fd.optional) {
      L(`const Operand ${v} = bufferOperand(ctx, ${b.obj}.Get("${b.name}"), k, ${labelOf(b)}, ${need});`);
    } else {
      const cond = [];
      if (fd.ignoredWhen) cond.push(`!(${cppExpr(fd.ignoredWhen, scope, ctx)})`);
      const present = fd.requiredWhen
        ? `((${cppExpr(fd.requiredWhen, scope, ctx)}) || hasProp(${b.obj}, "${b.name}"))`
        : `hasProp(${b.obj}, "${b.name}")`;
      cond.push(present);
      L(`const Operand ${v} = ${cond.join(' && ')} ? bufferOperand(ctx, ${b.obj}.Get("${b.name}"), k, ${labelOf(b)}, ${need}) : Operand{};`);
    }
    const t = pointerType(fd);
    st.assign.push(`${b.cpp} = ${fd.optional ? `${v}.present ? static_cast<${t}>(${v}.address) : nullptr` : `static_cast<${t}>(${v}.address)`};`);
    st.operands.push({ name: b.name, v, role: fd.role });
  }
}

/** Every output distinct from every other operand, unless an alias rule allows it. */
function emitAliasing(st, aliases, ctx) {
  const L = (s) => st.lines.push(`  ${st.indent}${s}`);
  const rules = Object.fromEntries((aliases ?? []).map((r) => [r.output, r]));
  for (const r of aliases ?? []) if (!st.operands.some((o) => o.name === r.output)) fail(`${ctx}: alias rule for unknown output '${r.output}'`);
  const outs = st.operands.filter((o) => o.role !== 'in');
  for (const out of outs) {
    const rule = rules[out.name] ?? {};
    const others = st.operands.filter((o) => o !== out);
    for (const other of others) {
      // Head-view outputs among themselves: requireHeadViewOutputs below.
      if (out.view && other.view && other.role !== 'in') continue;
      // Each pair of outputs once.
      if (other.role !== 'in' && outs.indexOf(other) < outs.indexOf(out)) continue;
      const inPlace = (rule.inPlace ?? []).find((p) => p.input === other.name);
      if (inPlace) {
        const same = inPlace.same ? cppExpr(inPlace.same, st.scope, ctx) : 'true';
        const note = inPlace.note ? cppTemplate(inPlace.note, st.scope, ctx) : 'std::string()';
        L(`requireInPlaceOrDistinct(k, "${out.name}", ${out.v}, "${other.name}", ${other.v}, ${same}, ${JSON.stringify(inPlace.expected ?? `${out.name} identical to ${other.name} or disjoint from it`)}, ${note});`);
      } else {
        L(`requireDistinct(k, "${out.name}", ${out.v}, {${other.v}}, ${JSON.stringify(rule.expected ?? 'distinct buffers')});`);
      }
    }
  }
}

/** Head-view outputs: no view overlaps itself; views sharing a buffer are disjoint column ranges. */
function emitViewOutputs(st) {
  const views = st.operands.filter((o) => o.view && o.role !== 'in');
  if (views.length) st.lines.push(`  requireHeadViewOutputs(k, {${views.map((o) => `{"${o.name}", &${o.view}}`).join(', ')}});`);
}

function emitChecks(st, checks, ctx) {
  const L = (s) => st.lines.push(`  ${st.indent}${s}`);
  const codes = { InvalidArgument: 'ErrorCode::InvalidArgument', ShapeMismatch: 'ErrorCode::ShapeMismatch', DtypeMismatch: 'ErrorCode::DtypeMismatch' };
  for (const [i, c] of (checks ?? []).entries()) {
    const where = `${ctx} check ${i}`;
    const holds = cppExpr(c.holds, st.scope, where);
    const cond = c.when ? `(${cppExpr(c.when, st.scope, where)}) && !(${holds})` : `!(${holds})`;
    L(`{`);
    L(`  CkScope ck(k, "check");`);
    L(`  if (${cond}) {`);
    L(`    throw Error(${codes[c.code ?? 'InvalidArgument']}, k + " " + ${cppTemplate(c.message, st.scope, where)},`);
    L(`                ${cppTemplate(c.expected, st.scope, where)}, ${cppTemplate(c.received, st.scope, where)});`);
    L(`  }`);
    L(`}`);
  }
}

function newState() {
  return { lines: [], indent: '', scope: {}, buffers: [], operands: [], assign: [], captures: [], resolve: [], lists: [], columns: [], derived: [] };
}

function launcherText(kd) {
  const ctx = `kernel ${kd.name}`;
  const st = newState();
  readFields(kd.fields, 'spec', 'a', st, '', '', ctx);
  for (const d of st.derived) {
    st.lines.push(`  ${d.cpp} = ${cppExpr(d.fd.value, st.scope, `${ctx} ${d.name}`)};`);
    st.scope[d.key] = { cpp: d.cpp, kind: 'derived', field: d.fd };
  }
  emitChecks(st, kd.checks, ctx);
  emitBuffers(st, ctx);
  emitAliasing(st, kd.aliases, ctx);
  emitViewOutputs(st);
  const body = [...st.lines];
  const run = [];
  // Lists of records: a vector the call owns (shared by copies of the call: built once).
  for (const l of st.lists) {
    const rec = recordOf(l.fd.record);
    const v = `list_${l.key}`;
    body.push(`  auto ${v} = std::make_shared<std::vector<${rec.name}>>();`);
    body.push(`  std::vector<ListUse> uses_${l.key};`);
    body.push(`  const Napi::Array arr_${l.key} = arrayProp(spec, k, "${l.name}", "an array of { ${Object.keys(rec.fields).join(', ')} }");`);
    body.push(`  for (uint32_t i = 0; i < arr_${l.key}.Length(); ++i) {`);
    body.push(`    const std::string item = "${l.name}[" + std::to_string(i) + "]";`);
    body.push(`    const Napi::Object e_obj = itemObject(arr_${l.key}, i, k, item, "{ ${Object.keys(rec.fields).join(', ')} }");`);
    body.push(`    ${rec.name} e;`);
    const sub = newState();
    sub.indent = '  ';
    readFields(rec.fields, 'e_obj', 'e', sub, '', '', `${ctx} ${l.name}`);
    // Messages name list items "tensors[3].param": the label is built when the spec is read.
    emitChecks(sub, rec.checks, `${ctx} ${l.name}`);
    for (const b of sub.buffers) b.labelCpp = `item + ".${b.name}"`;
    emitBuffers(sub, `${ctx} ${l.name}`);
    emitAliasing(sub, rec.aliases, `${ctx} ${l.name}`);
    body.push(...sub.lines);
    for (const s of sub.assign) body.push(`    ${s}`);
    for (const o of sub.operands) body.push(`    uses_${l.key}.push_back({${o.v}, i, ${o.role !== 'in'}});`);
    body.push(`    ${v}->push_back(e);`);
    body.push('  }');
    body.push(`  requireDisjointItems(k, "${l.name}", std::move(uses_${l.key}));`);
    st.captures.push(v);
    run.push(`a.${l.name} = ${v}->data();`, `a.${l.fd.count} = static_cast<int64_t>(${v}->size());`);
  }
  for (const c of st.columns) {
    const fd = c.fd;
    const v = `cols_${c.key}`;
    body.push(`  auto ${v} = std::make_shared<Columns>(readColumns(ctx, spec, k, "${fd.buffers}", "${fd.dtypes.name}", "${fd.sizes}", {${fd.dtypes.allowed.map((d) => DTYPE_CPP[d]).join(', ')}}));`);
    for (const o of st.operands.filter((x) => x.role !== 'in')) body.push(`  for (const Operand& in : ${v}->operands) requireDistinct(k, "${o.name}", ${o.v}, {in}, "distinct buffers");`);
    st.captures.push(v);
    run.push(`a.${fd.dtypes.name} = ${v}->dtypes.data();`, `a.${fd.sizes} = ${v}->sizes.data();`, `a.${fd.buffers} = ${v}->buffers.data();`, `a.${fd.count} = static_cast<int64_t>(${v}->buffers.size());`);
  }
  for (const s of st.assign) body.push(`  ${s}`);
  const shared = st.captures.length ? `, ${st.captures.join(', ')}` : '';
  const mutable = st.resolve.length || run.length ? ' mutable' : '';
  return [
    `exec::KernelCall launch_${kd.fn}(LaunchContext& ctx, const Napi::Object& spec) {`,
    `  const std::string k = "${kd.name}";`,
    `  ${kd.struct} a;`,
    ...body,
    `  return [a${shared}](exec::RunContext& run)${mutable} {`,
    ...[...st.resolve, ...run].map((s) => `    ${s}`),
    `    run.kernels().${kd.fn}(run.stream(), a);`,
    '  };',
    '}',
  ].join('\n');
}

function launchersText(kernels) {
  return [
    '// GENERATED by scripts/gen-kernels.mjs from lib/kernels/*.ts: do not edit.',
    '// One launcher per kernel: the spec read field by field, the data-free checks of its',
    '// declaration, each operand resolved and sized, the aliasing rules; see addon/kernel_launchers.h.',
    '#include <memory>',
    '#include <string>',
    '#include <vector>',
    '',
    '#include "addon/kernel_launchers.h"',
    '#include "addon/spec_readers.h"',
    '#include "core/status.h"',
    '#include "kernels.h"',
    '',
    'namespace vit::addon {',
    '',
    '// Declared, and registered under their launch names, by addon/kernel_launchers.cc from VIT_KERNELS.',
    ...kernels.map((k) => launcherText(k) + '\n'),
    '}  // namespace vit::addon',
    '',
  ].join('\n');
}

function tableText(files) {
  return [
    '// GENERATED by scripts/gen-kernels.mjs from lib/kernels/*.ts: do not edit.',
    ...files.map((f, i) => `import k${i} from './${f.replace(/\.ts$/, '')}';`),
    '',
    '/** Every kernel declaration, by launch name. */',
    'export const KERNEL_TABLE = {',
    ...files.map((f, i) => `  ${f.replace(/\.ts$/, '')}: k${i},`),
    '} as const;',
    '',
  ].join('\n');
}

function writeIfChanged(file, text) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text) return false;
  fs.writeFileSync(file, text);
  return true;
}

const loaded = load();
ENUMS = loaded.ENUMS;
RECORDS = loaded.RECORDS;
const kernels = loaded.KERNELS;
const outputs = [
  [path.join(root, 'native', 'generated', 'kernels_gen.h'), headerText(kernels)],
  [path.join(root, 'native', 'generated', 'launchers_gen.cc'), launchersText(kernels)],
  [path.join(KDIR, 'table.gen.ts'), tableText(loaded.files)],
];
const changed = outputs.filter(([file, text]) => writeIfChanged(file, text)).map(([file]) => path.relative(root, file));
console.log(`[gen-kernels] ${kernels.length} kernels; ${changed.length ? `wrote ${changed.join(', ')}` : 'up to date'}`);
