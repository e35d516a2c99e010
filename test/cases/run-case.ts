/**
 * What both case runners share (test/kernels/table.test.ts under jest, test/cases/gpu-runner.ts
 * bundled into dist/kernel-checks.cjs): checking a case file, running one case on a device with
 * poisoned outputs, comparing within a tolerance, and the finite-difference check of a backward's
 * reference. No jest and no node_modules here (only erased lib types), since it is bundled.
 */
import type { Device, DeviceTensor, Mesh } from '../../lib';
import { rng, roundTo } from './case-kit';
import type { CaseDType, KernelCase, KernelCases, MeshKernelCase, Tolerance, Tolerances } from './case-types';

/** Poison for 'out' buffers, as stored and as the reference sees it. */
export const POISON_BF16_BITS = 0xffff;
export const POISON_I32 = 0xdeadbeef | 0; // -559038737

/** Problems with a loaded case file (empty when it is usable); `file` is what the runner names. */
export function caseFileProblems(kernel: string, loaded: KernelCases | undefined, file: string): string[] {
  if (!loaded) return [`kernel ${kernel} has no case file ${file}`];
  const problems: string[] = [];
  if (loaded.kernel !== kernel) problems.push(`${file} says kernel '${loaded.kernel}', but its file name says '${kernel}'`);
  if (!Array.isArray(loaded.cases) || loaded.cases.length === 0) {
    problems.push(`kernel ${kernel} has no cases in ${file}`);
    return problems;
  }
  const seen = new Set<string>();
  for (const c of loaded.cases) {
    if (seen.has(c.name)) problems.push(`${file}: case name '${c.name}' repeats`);
    seen.add(c.name);
    problems.push(...caseProblems(c).map((p) => `${file}: case '${c.name}': ${p}`));
  }
  for (const c of loaded.meshCases ?? []) {
    if (seen.has(c.name)) problems.push(`${file}: case name '${c.name}' repeats`);
    seen.add(c.name);
    const size = c.mesh.data * c.mesh.model;
    if (c.buffers.length !== size) problems.push(`${file}: mesh case '${c.name}': ${c.buffers.length} ranks of buffers for a mesh of ${size}`);
    c.buffers.forEach((b, r) => problems.push(...caseProblems({ buffers: b } as KernelCase).map((p) => `${file}: mesh case '${c.name}' rank ${r}: ${p}`)));
  }
  return problems;
}

/** Shape errors a case can have before it runs (so a typo reads as such, not as a kernel bug). */
function caseProblems(c: KernelCase): string[] {
  const out: string[] = [];
  for (const [name, b] of Object.entries(c.buffers)) {
    if (!Number.isSafeInteger(b.size) || b.size < 0) out.push(`buffer ${name}: bad size ${b.size}`);
    if (b.role === 'out' && b.data) out.push(`buffer ${name}: an 'out' buffer takes no data (it is poisoned)`);
    if (b.role !== 'out' && (!b.data || b.data.length !== b.size)) {
      out.push(`buffer ${name}: ${b.role} needs data of length ${b.size}, got ${b.data ? b.data.length : 'none'}`);
    }
  }
  return out;
}

/** The host array `upload` takes for float64 values (bf16 as rounded bits, i32 wrapped to 32 bits). */
function hostArray(dtype: CaseDType, values: ArrayLike<number>): Float32Array | Uint16Array | Int32Array {
  if (dtype === 'f32') return Float32Array.from(values);
  if (dtype === 'i32') return Int32Array.from(values);
  const f = Float32Array.from(roundTo('bf16', values));
  return new Uint16Array(f.buffer).filter((_, i) => i % 2 === 1); // the high halves (little-endian)
}

function poisoned(dtype: CaseDType, size: number): Float32Array | Uint16Array | Int32Array {
  if (dtype === 'f32') return new Float32Array(size).fill(Number.NaN);
  if (dtype === 'bf16') return new Uint16Array(size).fill(POISON_BF16_BITS);
  return new Int32Array(size).fill(POISON_I32);
}

/** A downloaded buffer as float64 (bf16 bits widened exactly). */
function decode(dtype: CaseDType, raw: ArrayLike<number>): Float64Array {
  if (dtype !== 'bf16') return Float64Array.from(raw);
  const words = new Uint32Array(raw.length);
  for (let i = 0; i < raw.length; i++) words[i] = (raw[i]! << 16) >>> 0;
  return Float64Array.from(new Float32Array(words.buffer));
}

/** Bytes of a typed array, for bitwise comparisons (NaN payloads included). */
function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export interface CaseRun {
  /** Every buffer before the launch, as float64 (what the reference receives). */
  initial: Record<string, Float64Array>;
  /** Every buffer after the launch, as float64. */
  final: Record<string, Float64Array>;
  /** 'in' buffers whose bytes changed (they must not). */
  inputsWritten: string[];
}

/** Uploads (or poisons) every buffer, launches the case once, downloads everything, disposes. */
export function runCase(device: Device, kernel: string, c: KernelCase): CaseRun {
  const tensors: Record<string, DeviceTensor> = {};
  try {
    const before: Record<string, ArrayBufferView> = {};
    const initial: Record<string, Float64Array> = {};
    for (const [name, b] of Object.entries(c.buffers)) {
      const host = b.role === 'out' ? poisoned(b.dtype, b.size) : hostArray(b.dtype, b.data!);
      tensors[name] = device.tensor(b.dtype, [b.size], host);
      // Read back rather than trust the upload: the reference sees exactly what the kernel sees.
      before[name] = tensors[name]!.download();
      initial[name] = decode(b.dtype, before[name] as unknown as ArrayLike<number>);
    }
    const handles = Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, t.buffer as unknown]));
    // The runner walks the addon's kernel list (names known at run time, specs from case files), so
    // it launches through the untyped form; the kernels' own tests use the typed launch<K>().
    const launch = device.native.launch.bind(device.native) as (kernel: string, spec: object) => void;
    launch(kernel, c.spec(handles));
    const final: Record<string, Float64Array> = {};
    const inputsWritten: string[] = [];
    for (const [name, b] of Object.entries(c.buffers)) {
      const raw = tensors[name]!.download();
      final[name] = decode(b.dtype, raw as unknown as ArrayLike<number>);
      if (b.role === 'in' && !sameBytes(bytesOf(raw), bytesOf(before[name]!))) inputsWritten.push(name);
    }
    return { initial, final, inputsWritten };
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The tolerance for output `name` (a per-buffer table without the name means exact). */
export function toleranceFor(t: Tolerances, name: string): Tolerance {
  if (typeof (t as Tolerance).abs === 'number' && typeof (t as Tolerance).rel === 'number') return t as Tolerance;
  return (t as Record<string, Tolerance>)[name] ?? { abs: 0, rel: 0 };
}

/** u32 words (philox) are stored in i32 buffers: an expected word >= 2^31 means its wrapped value. */
function asStored(dtype: CaseDType, x: number): number {
  return dtype === 'i32' && Number.isInteger(x) && x >= 2 ** 31 && x < 2 ** 32 ? x - 2 ** 32 : x;
}

/** The first element of `got` outside the tolerance of `want`, described; null when all agree. */
export function firstMismatch(
  what: string,
  dtype: CaseDType,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  tol: Tolerance,
): string | null {
  if (got.length !== want.length) return `${what}: ${got.length} elements, expected ${want.length}`;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = asStored(dtype, want[i]!);
    if (g === w || (Number.isNaN(g) && Number.isNaN(w))) continue;
    const bound = tol.abs + tol.rel * Math.abs(w);
    // NaN on one side only, or infinities that differ, fail: the comparison below is false then.
    if (!(Math.abs(g - w) <= bound)) {
      return `${what}[${i}]: got ${g}, expected ${w}, |error| ${Math.abs(g - w)} > bound ${bound} (abs ${tol.abs}, rel ${tol.rel})`;
    }
  }
  return null;
}

/** Every output of `run` against `expected` (one entry per output), within `tolerances`. */
export function compareOutputs(
  c: KernelCase,
  final: Record<string, Float64Array>,
  expected: Record<string, ArrayLike<number>>,
  tolerances: Tolerances,
): string[] {
  const failures: string[] = [];
  for (const name of Object.keys(expected)) {
    if (!c.buffers[name]) failures.push(`the reference returns '${name}', which is not a buffer of the case`);
    else if (c.buffers[name]!.role === 'in') failures.push(`the reference returns '${name}', an 'in' buffer`);
  }
  for (const [name, b] of Object.entries(c.buffers)) {
    if (b.role === 'in') continue;
    const want = expected[name];
    if (!want) {
      failures.push(`the reference does not return '${name}' (${b.role})`);
      continue;
    }
    const bad = firstMismatch(name, b.dtype, final[name]!, want, toleranceFor(tolerances, name));
    if (bad) failures.push(bad);
  }
  return failures;
}

/** Runs `c` on the device and checks it against its float64 reference; the failures (none: ok). */
export function checkCase(device: Device, kernel: string, c: KernelCase): string[] {
  const run = runCase(device, kernel, c);
  const failures = run.inputsWritten.map((n) => `the kernel wrote to 'in' buffer '${n}'`);
  const expected = c.reference(copies(run.initial));
  failures.push(...compareOutputs(c, run.final, expected, c.tolerance));
  if (c.gradient) {
    const bad = gradientMismatch(c, run.initial, expected);
    if (bad) failures.push(bad);
  }
  return failures;
}

/**
 * Runs a mesh case: every rank's buffers uploaded (or poisoned) on its device, the kernel launched
 * on every rank at once (Mesh.launch), every rank's buffers downloaded; the failures against the
 * float64 reference of the whole mesh (none: ok). Everything allocated is disposed.
 */
export function checkMeshCase(mesh: Mesh, kernel: string, c: MeshKernelCase): string[] {
  const tensors: Record<string, DeviceTensor>[] = [];
  try {
    const initial: Record<string, Float64Array>[] = [];
    const before: Record<string, ArrayBufferView>[] = [];
    c.buffers.forEach((buffers, r) => {
      const device = mesh.devices[r]!;
      tensors.push({});
      initial.push({});
      before.push({});
      for (const [name, b] of Object.entries(buffers)) {
        const host = b.role === 'out' ? poisoned(b.dtype, b.size) : hostArray(b.dtype, b.data!);
        tensors[r]![name] = device.tensor(b.dtype, [b.size], host);
        before[r]![name] = tensors[r]![name]!.download();
        initial[r]![name] = decode(b.dtype, before[r]![name] as unknown as ArrayLike<number>);
      }
    });
    const specs = tensors.map((ts, r) => c.spec(Object.fromEntries(Object.entries(ts).map(([k, t]) => [k, t.buffer as unknown])), r));
    // The runner launches by name with specs from case files: the untyped form.
    const launch = mesh.launch.bind(mesh) as (kernel: string, specs: object[]) => void;
    launch(kernel, specs);
    const expected = c.reference(initial.map(copies));
    const failures: string[] = [];
    c.buffers.forEach((buffers, r) => {
      const final: Record<string, Float64Array> = {};
      for (const [name, b] of Object.entries(buffers)) {
        const raw = tensors[r]![name]!.download();
        final[name] = decode(b.dtype, raw as unknown as ArrayLike<number>);
        if (b.role === 'in' && !sameBytes(bytesOf(raw), bytesOf(before[r]![name]!))) failures.push(`rank ${r}: the kernel wrote to 'in' buffer '${name}'`);
      }
      const asCase = { buffers } as KernelCase;
      failures.push(...compareOutputs(asCase, final, expected[r] ?? {}, c.tolerance).map((f) => `rank ${r}: ${f}`));
    });
    return failures;
  } finally {
    for (const ts of tensors) for (const t of Object.values(ts)) t.dispose();
  }
}

/** Fresh copies, so a reference that writes to its inputs cannot corrupt the next comparison. */
export function copies(xs: Record<string, Float64Array>): Record<string, Float64Array> {
  return Object.fromEntries(Object.entries(xs).map(([k, v]) => [k, Float64Array.from(v)]));
}

/** A seed from a case name, so each case's direction differs but is reproducible. */
function seedOf(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * The finite-difference check of case-types.ts: <cotangent, dF[v]> against <grad, v>, in float64.
 * A gradient held in an 'inout' buffer accumulates (dx += ...), so its increment is the gradient.
 */
export function gradientMismatch(
  c: KernelCase,
  initial: Record<string, Float64Array>,
  expected: Record<string, ArrayLike<number>>,
): string | null {
  const g = c.gradient!;
  const h = g.step ?? 1e-4;
  const tol = g.tolerance ?? { abs: 1e-7, rel: 1e-5 };
  const r = rng(seedOf(c.name));
  const dirs: Record<string, Float64Array> = {};
  for (const w of g.wrt) {
    const x = initial[w];
    if (!x) return `gradient: wrt '${w}' is not a buffer of the case`;
    const mask = g.mask?.[w];
    dirs[w] = x.map((_, i) => (mask && !mask(i) ? 0 : 2 * r() - 1));
  }
  const shifted = (sign: number) => {
    const inputs = copies(initial);
    for (const w of g.wrt) inputs[w] = inputs[w]!.map((v, i) => v + sign * h * dirs[w]![i]!);
    return g.forward(inputs);
  };
  const up = shifted(1);
  const down = shifted(-1);
  let lhs = 0;
  for (const [o, cotName] of Object.entries(g.cotangents)) {
    const cot = initial[cotName];
    if (!cot || !up[o] || !down[o]) return `gradient: forward output '${o}' or cotangent '${cotName}' missing`;
    // Elements the direction does not move (strided gaps, poisoned with NaN) contribute nothing.
    for (let i = 0; i < cot.length; i++) {
      if (Object.is(up[o]![i], down[o]![i])) continue;
      lhs += cot[i]! * (up[o]![i]! - down[o]![i]!) / (2 * h);
    }
  }
  let rhs = 0;
  for (const [w, gradName] of Object.entries(g.grads)) {
    const grad = expected[gradName];
    const dir = dirs[w];
    if (!grad || !dir) return `gradient: grad '${gradName}' of '${w}' missing`;
    const accumulates = c.buffers[gradName]?.role === 'inout';
    for (let i = 0; i < dir.length; i++) {
      if (dir[i] === 0) continue; // a masked element (a gap): its gradient slot is not read
      rhs += (grad[i]! - (accumulates ? initial[gradName]![i]! : 0)) * dir[i]!;
    }
  }
  const bound = tol.abs + tol.rel * Math.max(Math.abs(lhs), Math.abs(rhs));
  if (!(Math.abs(lhs - rhs) <= bound)) {
    return `gradient: finite differences give ${lhs}, the reference's gradient ${rhs}, |difference| ${Math.abs(lhs - rhs)} > ${bound}`;
  }
  return null;
}

/** The coverage key of a case: kernel x storage type x layout. */
export function coverageKey(kernel: string, c: KernelCase): string {
  return `${kernel} ${c.dtype} ${c.layout}`;
}


/** Files of test/cases/ that are not case files (scripts/gen-case-index.mjs keeps the same list). */
export const NOT_CASE_FILES = ['case-types', 'case-kit', 'run-case', 'gpu-runner', 'index.gen'];

/**
 * The kernels a run covers: all of `kernels`, or those named in `filter` (a comma list such as
 * VIT22B_CASES or ONLY); names in the filter that are not kernels come back in `unknown`.
 */
export function selectKernels(kernels: string[], filter: string | undefined): { kernels: string[]; unknown: string[] } {
  const wanted = (filter ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (wanted.length === 0) return { kernels: [...kernels], unknown: [] };
  return { kernels: kernels.filter((k) => wanted.includes(k)), unknown: wanted.filter((k) => !kernels.includes(k)) };
}
