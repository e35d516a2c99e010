/**
 * The TypeScript shape of each kernel's spec, derived by the compiler from the declarations
 * (lib/kernels/<kernel>.ts, gathered in the generated table.gen.ts): `launch()` in the eager API and
 * `emit()` in lowering take `KernelSpec<K, ...>`, so a misspelt field, a missing one or a wrong dtype
 * name fails `tsc`, not a run. The addon checks the same specs again at launch (values, sizes,
 * aliasing), from the same declarations.
 */
import type {
  BoolField,
  BufferField,
  ColumnsField,
  CountField,
  DerivedField,
  DTypeField,
  DynamicField,
  EnumField,
  FlatField,
  HeadViewField,
  ListField,
  NumberField,
  RecordField,
  TextField,
  U64Field,
  WordsField,
} from './declare';
import type { RECORDS } from './records';
import type { KERNEL_TABLE } from './table.gen';

export type KernelTable = typeof KERNEL_TABLE;
/** Every kernel's launch name. */
export type KernelName = keyof KernelTable;

type Records = typeof RECORDS;

/** A [B, T, H, Dh] view into a buffer (attention's operands), offsets and strides in elements. */
export interface HeadViewSpec<B> {
  buffer: B;
  offset: number;
  batchStride: number;
  tokenStride: number;
  headStride: number;
}

type Value<F, B, S> = F extends DTypeField<infer D>
  ? D
  : F extends EnumField<infer V>
    ? V
    : F extends CountField | NumberField
      ? number
      : F extends BoolField
        ? boolean
        : F extends U64Field
          ? number | bigint
          : F extends WordsField
            ? readonly number[]
            : F extends TextField
              ? string
              : F extends DynamicField
                ? S
                : F extends BufferField
                  ? B
                  : F extends HeadViewField
                    ? HeadViewSpec<B>
                    : F extends RecordField<infer R extends keyof Records>
                      ? FieldsSpec<Records[R]['fields'], B, S>
                      : F extends ListField<infer R extends keyof Records>
                        ? FieldsSpec<Records[R]['fields'], B, S>[]
                        : never;

type Optional<F> = F extends { optional: true } ? true : false;

/** Fields that sit at the top level of the spec (flat records spread, derived ones left out). */
type Plain<Fs> = {
  [K in keyof Fs as Fs[K] extends FlatField | ColumnsField | DerivedField ? never : K]: Fs[K];
};

type FlatSpecs<Fs, B, S> = UnionToIntersection<
  { [K in keyof Fs]: Fs[K] extends FlatField<infer R extends keyof Records> ? FieldsSpec<Records[R]['fields'], B, S> : never }[keyof Fs]
>;

type ColumnSpecs<Fs, B> = UnionToIntersection<
  {
    [K in keyof Fs]: Fs[K] extends ColumnsField<infer Bs, infer Ds, infer D, infer Ss>
      ? { [P in Bs]: B[] } & { [P in Ds]: D[] } & { [P in Ss]: number[] }
      : never;
  }[keyof Fs]
>;

type UnionToIntersection<U> = [U] extends [never] ? unknown : (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

type Simplify<T> = { [K in keyof T]: T[K] } & {};

export type FieldsSpec<Fs, B, S> = Simplify<
  { [K in keyof Plain<Fs> as Optional<Fs[K]> extends true ? never : K]: Value<Fs[K], B, S> } & {
    [K in keyof Plain<Fs> as Optional<Fs[K]> extends true ? K : never]?: Value<Fs[K], B, S>;
  } & FlatSpecs<Fs, B, S> &
    ColumnSpecs<Fs, B>
>;

/**
 * The spec of kernel K with buffer operands of type B (BufferHandles for launch(), PlanViews for a
 * plan) and dynamic scalars of type S (numbers for launch(); numbers, { scalar } or { read } for a
 * plan).
 */
export type KernelSpec<K extends KernelName, B, S = number> = FieldsSpec<KernelTable[K]['fields'], B, S>;

/** The spec of a shared record (lib/kernels/records.ts), e.g. one tensor of adamw_multi's list. */
export type RecordSpec<R extends keyof Records, B, S = number> = FieldsSpec<Records[R]['fields'], B, S>;
