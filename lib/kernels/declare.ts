/**
 * The language a kernel's contract is declared in, once (lib/kernels/<kernel>.ts). From the
 * declarations, scripts/gen-kernels.mjs generates at build time (into native/generated/, never
 * committed):
 *   - kernels_gen.h: each kernel's argument struct, the shared records and enums, and VIT_KERNELS
 *     (the X-macro the KernelTable and both backends' declarations are made from);
 *   - launchers_gen.cc: one launcher per kernel for DeviceHandle.launch and plan instructions:
 *     the spec read field by field, every data-free check, operand sizes, aliasing rules;
 * and lib/kernels/table.gen.ts, the table TypeScript derives `KernelSpec<K>` from (so that
 * `emit()` in lowering and `launch()` in the eager API are checked by the compiler).
 *
 * A declaration is plain data. Expressions (`Expr`) are C++ expressions over the kernel's fields,
 * written with their spec names: `rows`, `xLayout.groupRows`, and the helpers
 *   has(f)           whether optional field f (a buffer, or a scalar with no default) was given
 *   is(f, 'name')    whether enum field f has the value 'name' (its spec spelling)
 *   size(f)          bytes per element of dtype field f
 *   max(a, b), min(a, b)
 * and the span and text helpers of native/core/kernel_exprs.h, called by name (stridedRows, runs,
 * matrixSpan, layoutSpan, effectiveStride, sameLayout, positiveF32, finiteF32, dtypeText, ...): a
 * new helper is a function there, never kernel code in the addon.
 * Arithmetic on fields is overflow-checked (a footprint beyond 2^63 bytes is ERR_SHAPE_MISMATCH).
 * Message templates interpolate expressions: 'expected ${cols}' (numbers printed as integers).
 */

export type DTypeName = 'f32' | 'bf16' | 'i32' | 'u8';
/** A C++ expression over the fields (see above). */
export type Expr = string;

/** Inclusive lower bound, upper bound, upper bound open, whole numbers only. */
export interface Range {
  lo: number;
  hi: number;
  hiOpen?: boolean;
  integer?: boolean;
}

/** The largest finite f32: ranges that only ask for a finite f32. */
export const F32_MAX = 3.4028234663852886e38;
export const FINITE: Range = { lo: -F32_MAX, hi: F32_MAX };

interface Common {
  /** The comment on the struct member. */
  doc?: string;
}

export interface DTypeField<D extends DTypeName = DTypeName, O extends boolean = boolean> extends Common {
  kind: 'dtype';
  allowed: readonly D[];
  /** Absent means this dtype, or the value of the named dtype field ({ field }). */
  default?: D | { field: string };
  optional: O;
}
export interface EnumField<V extends string = string, O extends boolean = boolean> extends Common {
  kind: 'enum';
  type: string; // the enum's C++ name, declared in lib/kernels/enums.ts
  values: readonly V[];
  default?: V;
  optional: O;
}
export interface CountField<O extends boolean = boolean> extends Common {
  kind: 'count'; // a non-negative integer <= 2^53
  default?: number;
  optional: O;
}
export interface NumberField<O extends boolean = boolean> extends Common {
  kind: 'number'; // an f32 member; a finite number in `range` (any number when no range)
  range?: Range;
  default?: number;
  optional: O;
}
export interface BoolField extends Common {
  kind: 'bool';
  default?: boolean;
  optional: boolean;
}
export interface U64Field extends Common {
  kind: 'u64'; // a safe-integer number or a BigInt below 2^64
  optional: false;
}
export interface WordsField extends Common {
  kind: 'words'; // an array of `length` u32 numbers; a uint32_t[length] member
  length: number;
  optional: false;
}
export interface TextField extends Common {
  kind: 'text'; // a string the call keeps alive; a `const char*` member
  default: string;
  optional: true;
}
/** A float or integer that a plan may vary per run (a companion `<name>Ptr` member). */
export interface DynamicField extends Common {
  kind: 'dynamic';
  type: 'f32' | 'i64';
  range: Range;
  default?: number;
  optional: false;
}
export type BufferRole = 'in' | 'out' | 'inout';
export interface BufferField<O extends boolean = boolean> extends Common {
  kind: 'buffer';
  role: BufferRole;
  /** A dtype field's name, or a fixed dtype. */
  dtype: string;
  /** Elements the operand spans from its first one (strided gaps included). */
  elements: Expr;
  optional: O;
  /** An optional buffer that must be given when this holds. */
  requiredWhen?: Expr;
  /** Never read when this holds (the member is then nullptr even if given). */
  ignoredWhen?: Expr;
  /** The member's C++ type, where a struct serves kernels that use the buffer both ways. */
  pointer?: string;
}
/** A [B, T, H, Dh] operand at { buffer, offset, batchStride, tokenStride, headStride } (elements). */
export interface HeadViewField extends Common {
  kind: 'headView';
  role: BufferRole;
  dtype: string;
  /** Tokens of this operand (tq or tk). */
  tokens: string;
  optional: false;
}
/** A record read from a nested object of the spec; absent = its defaults when optional. */
export interface RecordField<R extends string = string, O extends boolean = boolean> extends Common {
  kind: 'record';
  record: R;
  optional: O;
}
/** A record whose fields sit at the top level of the spec (the struct nests them). */
export interface FlatField<R extends string = string> extends Common {
  kind: 'flat';
  record: R;
  optional: false;
}
/** An array of records: a `const R* <name>` member and a count member. */
export interface ListField<R extends string = string> extends Common {
  kind: 'list';
  record: R;
  count: string;
  optional: false;
}
/** Parallel arrays of one length (global_norm's buffers, dtypes, sizes): pointer members. */
export interface ColumnsField<Bs extends string = string, Ds extends string = string, D extends DTypeName = DTypeName, Ss extends string = string> extends Common {
  kind: 'columns';
  count: string;
  buffers: Bs; // spec name of the buffers array (role 'in')
  dtypes: { name: Ds; allowed: readonly D[] };
  sizes: Ss; // element counts
  optional: false;
}
/** A member computed from other fields, not in the spec. */
export interface DerivedField extends Common {
  kind: 'derived';
  type: string; // C++ type
  value: Expr;
  /** The member's default (C++), for code that fills the struct without a launcher. */
  init: string;
  optional: true;
}

export type Field =
  | DTypeField
  | EnumField
  | CountField
  | NumberField
  | BoolField
  | U64Field
  | WordsField
  | TextField
  | DynamicField
  | BufferField
  | HeadViewField
  | RecordField
  | FlatField
  | ListField
  | ColumnsField
  | DerivedField;

export type ErrorCodeName = 'InvalidArgument' | 'ShapeMismatch' | 'DtypeMismatch';

/** A data-free rule: when `holds` is false, a typed error. Messages get the kernel name prefixed. */
export interface Check {
  holds: Expr;
  code?: ErrorCodeName; // default InvalidArgument
  message: string;
  expected: string;
  received: string;
  /** Only checked when this holds. */
  when?: Expr;
  /**
   * How to break the rule: a patch over a valid spec of the kernel (a case's), or undefined when
   * that spec cannot show it (test/kernels/contract-checks.test.ts then tries the next case). Every
   * check has one, so every rule is proven to give its typed error.
   */
  example: (spec: SpecSample) => Record<string, unknown> | undefined;
}

/** A valid spec of the kernel, as the contract tests hand it to Check.example. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type SpecSample = Record<string, any>;

/**
 * How an output may relate to other operands. By default every output must be disjoint from every
 * other operand ("distinct buffers"). `inPlace` lists inputs it may be exactly: the same first
 * element and, when given, `same` holds (equal strides or layouts); any partial overlap is refused.
 */
export interface AliasRule {
  output: string;
  inPlace?: { input: string; same?: Expr; expected?: string; /** appended to the error's received text */ note?: string }[];
  expected?: string;
}

export interface KernelDecl {
  /** The launch name: DeviceHandle.launch(name, spec), plan instructions. */
  name: string;
  /** The KernelTable slot and the backends' function name. */
  fn: string;
  /** The C++ argument struct (several kernels may share one: patchify, unpatchify). */
  struct: string;
  /** The comment above the struct: what the kernel computes, in its terms. */
  doc: string;
  fields: Record<string, Field>;
  checks?: Check[];
  aliases?: AliasRule[];
}

export interface RecordDecl {
  name: string; // C++ struct name
  doc: string;
  fields: Record<string, Field>;
  /** Rules on the record's own fields, checked where it is read; '{field}' in a message names it. */
  checks?: Check[];
}

export interface EnumDecl {
  name: string;
  doc: string;
  /** spec spelling -> C++ enumerator; values in order from 0. */
  values: Record<string, string>;
}

// ---- builders (typed, so KernelSpec<K> can be derived from the declarations) ----

export const f = {
  dtype<const D extends DTypeName>(allowed: readonly D[], doc?: string): DTypeField<D, false> {
    return { kind: 'dtype', allowed, optional: false, doc };
  },
  /** An optional dtype, absent = `def` (a dtype, or { field } to copy another dtype field). */
  dtypeOr<const D extends DTypeName>(allowed: readonly D[], def: D | { field: string }, doc?: string): DTypeField<D, true> {
    return { kind: 'dtype', allowed, default: def, optional: true, doc };
  },
  enum<const V extends string>(type: string, values: readonly V[], doc?: string): EnumField<V, false> {
    return { kind: 'enum', type, values, optional: false, doc };
  },
  enumOr<const V extends string>(type: string, values: readonly V[], def: V, doc?: string): EnumField<V, true> {
    return { kind: 'enum', type, values, default: def, optional: true, doc };
  },
  count(doc?: string): CountField<false> {
    return { kind: 'count', optional: false, doc };
  },
  countOr(def: number, doc?: string): CountField<true> {
    return { kind: 'count', default: def, optional: true, doc };
  },
  number(range: Range | undefined, doc?: string, def?: number): NumberField<false> {
    return { kind: 'number', range, default: def, optional: false, doc };
  },
  numberOr(range: Range | undefined, def: number, doc?: string): NumberField<true> {
    return { kind: 'number', range, default: def, optional: true, doc };
  },
  bool(doc?: string, def?: boolean): BoolField {
    return { kind: 'bool', default: def, optional: false, doc };
  },
  u64(doc?: string): U64Field {
    return { kind: 'u64', optional: false, doc };
  },
  words(length: number, doc?: string): WordsField {
    return { kind: 'words', length, optional: false, doc };
  },
  text(def: string, doc?: string): TextField {
    return { kind: 'text', default: def, optional: true, doc };
  },
  dynamic(type: 'f32' | 'i64', range: Range, doc?: string, def?: number): DynamicField {
    return { kind: 'dynamic', type, range, default: def, optional: false, doc };
  },
  input(dtype: string, elements: Expr, doc?: string, more: Partial<BufferField> = {}): BufferField<false> {
    return { kind: 'buffer', role: 'in', dtype, elements, optional: false, doc, ...more } as BufferField<false>;
  },
  output(dtype: string, elements: Expr, doc?: string, more: Partial<BufferField> = {}): BufferField<false> {
    return { kind: 'buffer', role: 'out', dtype, elements, optional: false, doc, ...more } as BufferField<false>;
  },
  inout(dtype: string, elements: Expr, doc?: string, more: Partial<BufferField> = {}): BufferField<false> {
    return { kind: 'buffer', role: 'inout', dtype, elements, optional: false, doc, ...more } as BufferField<false>;
  },
  /** An optional buffer (nullptr when absent). */
  maybe(role: BufferRole, dtype: string, elements: Expr, doc?: string, more: Partial<BufferField> = {}): BufferField<true> {
    return { kind: 'buffer', role, dtype, elements, optional: true, doc, ...more } as BufferField<true>;
  },
  headView(role: BufferRole, dtype: string, tokens: string, doc?: string): HeadViewField {
    return { kind: 'headView', role, dtype, tokens, optional: false, doc };
  },
  record<R extends string, const O extends boolean>(record: R, optional: O, doc?: string): RecordField<R, O> {
    return { kind: 'record', record, optional, doc };
  },
  flat<R extends string>(record: R, doc?: string): FlatField<R> {
    return { kind: 'flat', record, optional: false, doc };
  },
  list<R extends string>(record: R, count: string, doc?: string): ListField<R> {
    return { kind: 'list', record, count, optional: false, doc };
  },
  columns<const Bs extends string, const Ds extends string, const D extends DTypeName, const Ss extends string>(
    count: string,
    buffers: Bs,
    dtypes: { name: Ds; allowed: readonly D[] },
    sizes: Ss,
    doc?: string,
  ): ColumnsField<Bs, Ds, D, Ss> {
    return { kind: 'columns', count, buffers, dtypes, sizes, optional: false, doc };
  },
  derived(type: string, value: Expr, init: string, doc?: string): DerivedField {
    return { kind: 'derived', type, value, init, optional: true, doc };
  },
};

/** Identity, typed: a declaration keeps its literal field types for KernelSpec. */
export function kernel<const F extends Record<string, Field>>(decl: Omit<KernelDecl, 'fields'> & { fields: F }): Omit<KernelDecl, 'fields'> & { fields: F } {
  return decl;
}

export function record<const F extends Record<string, Field>>(decl: Omit<RecordDecl, 'fields'> & { fields: F }): Omit<RecordDecl, 'fields'> & { fields: F } {
  return decl;
}
