/**
 * Gradient checks through the whole pipeline (graph -> autodiff -> plan -> native executor): a
 * model compiled as a training step with learning rate 0 (so parameters stay put) gives the loss and
 * every parameter's gradient in one run; central differences of the loss along random directions
 * must match the directional derivative <grad, u>.
 */
import type { Device } from '../../lib/runtime/device';
import { compile, type CompileOptions, type ModelFn } from '../../lib/graph/compile';
import type { Program, ProgramInputs } from '../../lib/graph/program';
import type { Shape } from '../../lib/graph/types';
import type { Rng } from './prng';

/** n standard-normal f32 values times `std` (Box-Muller). */
export function normals(rng: Rng, n: number, std = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(rng(), 1e-12);
    const v = rng();
    const r = Math.sqrt(-2 * Math.log(u)) * std;
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

export function numelOf(shape: Shape): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Compiles `model` as an AdamW training step on `loss` (lr is a run scalar). */
export function compileStep(device: Device, model: ModelFn, inputShapes: Record<string, Shape>, extra: Partial<CompileOptions> = {}): Program {
  return compile(model, { device, inputShapes, train: { loss: 'loss', optimizer: { kind: 'adamw' } }, ...extra });
}

/** Overwrites every f32 parameter with N(0, std^2) values; returns them by name. */
export function randomizeParams(p: Program, rng: Rng, std = 0.5): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const name of p.parameterNames()) {
    const v = normals(rng, numelOf(p.bufferShape(name)), std);
    p.write(name, v);
    out.set(name, v);
  }
  return out;
}

export async function lossOf(p: Program, inputs: ProgramInputs): Promise<number> {
  const out = await p.run(inputs, { lr: 0, step: 1 });
  return (out.loss as Float32Array)[0]!;
}

export interface DirectionalCheck {
  analytic: number;
  numeric: number;
}

/**
 * For `directions` random unit directions u over all parameters: numeric (L(p + h u) - L(p - h u)) / 2h
 * and analytic <grad, u>. Parameters are restored afterwards.
 */
export async function directionalChecks(p: Program, inputs: ProgramInputs, rng: Rng, directions = 2, h = 1e-2): Promise<DirectionalCheck[]> {
  const base = new Map(p.parameterNames().map((n) => [n, p.read(n) as Float32Array]));
  await p.run(inputs, { lr: 0, step: 1 });
  const grads = new Map([...base.keys()].map((n) => [n, p.read(`grad/${n}`) as Float32Array]));
  const checks: DirectionalCheck[] = [];
  for (let d = 0; d < directions; ++d) {
    const dir = new Map([...base].map(([n, v]) => [n, normals(rng, v.length)]));
    let norm = 0;
    for (const u of dir.values()) for (const x of u) norm += x * x;
    norm = Math.sqrt(norm);
    let analytic = 0;
    for (const [n, u] of dir) {
      const g = grads.get(n)!;
      for (let i = 0; i < u.length; ++i) {
        u[i] = u[i]! / norm;
        analytic += g[i]! * u[i]!;
      }
    }
    const shifted = async (sign: number) => {
      for (const [n, v] of base) {
        const u = dir.get(n)!;
        p.write(n, v.map((x, i) => x + sign * h * u[i]!));
      }
      return lossOf(p, inputs);
    };
    const numeric = ((await shifted(1)) - (await shifted(-1))) / (2 * h);
    checks.push({ analytic, numeric });
  }
  for (const [n, v] of base) p.write(n, v);
  return checks;
}

/** |numeric - analytic| <= rtol * max(|analytic|, |numeric|) + atol, with the figures in the failure. */
export function expectClose(c: DirectionalCheck, rtol: number, atol: number): void {
  const err = Math.abs(c.numeric - c.analytic);
  const bound = rtol * Math.max(Math.abs(c.analytic), Math.abs(c.numeric)) + atol;
  if (!(err <= bound)) {
    throw new Error(`directional derivative mismatch: analytic ${c.analytic}, numeric ${c.numeric}, |diff| ${err} > ${bound}`);
  }
}
