/**
 * Fused multi-head attention on a device (native kernels attention_fwd / attention_bwd):
 *   O = softmax(scale * Q K^T) V per (batch, head), L = the row log-sum-exp (f32, for the backward).
 * Operands are [B, T, H, Dh] tensors, or views of them inside a larger buffer (Q, K and V read
 * straight out of the fused [B, T, 3D + F] projection without a copy): see `fusedHeads`.
 */
import type { Device } from '../device';
import { Vit22bError } from '../errors';
import type { NativeBuffer } from '../native-types';
import { DeviceTensor } from '../tensor';
import { requireShape, requireTensor, scalar, shapeError, shapeText } from './check';

/**
 * A [batch, tokens, heads, headDim] operand inside `tensor`: element (b, t, h, d) is element
 * offset + b * batchStride + t * tokenStride + h * headStride + d of the tensor's storage.
 */
export interface HeadView {
  tensor: DeviceTensor;
  shape: readonly [number, number, number, number];
  offset: number;
  batchStride: number;
  tokenStride: number;
  headStride: number;
}

export type AttentionOperand = DeviceTensor | HeadView;

/**
 * The heads of columns [columnOffset, columnOffset + heads * headDim) of a [B, T, W] tensor, e.g.
 * K of the fused projection output [B, T, 3D + F] is fusedHeads(y, D, H, D / H).
 */
export function fusedHeads(tensor: DeviceTensor, columnOffset: number, heads: number, headDim: number): HeadView {
  if (!(tensor instanceof DeviceTensor) || tensor.shape.length !== 3) {
    throw shapeError('fusedHeads takes a [batch, tokens, width] tensor', '[batch, tokens, width]', tensor instanceof DeviceTensor ? shapeText(tensor.shape) : String(tensor));
  }
  const [b, t, w] = tensor.shape as [number, number, number];
  for (const [name, v] of [['columnOffset', columnOffset], ['heads', heads], ['headDim', headDim]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', `fusedHeads ${name} must be a non-negative integer`, { expected: 'integer >= 0', received: String(v) });
    }
  }
  if (columnOffset + heads * headDim > w) {
    throw shapeError('fusedHeads columns run past the tensor width', `columnOffset + heads * headDim <= ${w}`, String(columnOffset + heads * headDim));
  }
  return { tensor, shape: [b, t, heads, headDim], offset: columnOffset, batchStride: t * w, tokenStride: w, headStride: headDim };
}

interface NativeView {
  buffer: NativeBuffer;
  offset: number;
  batchStride: number;
  tokenStride: number;
  headStride: number;
}

interface CheckedView {
  view: HeadView;
  native: NativeView;
}

function viewOf(op: string, name: string, x: AttentionOperand): CheckedView {
  let view: HeadView;
  if (x instanceof DeviceTensor) {
    if (x.shape.length !== 4) throw shapeError(`${op} ${name} must be [batch, tokens, heads, headDim]`, '[B, T, H, Dh]', shapeText(x.shape));
    const [, t, h, d] = x.shape as [number, number, number, number];
    view = { tensor: x, shape: x.shape as HeadView['shape'], offset: 0, batchStride: t * h * d, tokenStride: h * d, headStride: d };
  } else if (x !== null && typeof x === 'object' && 'tensor' in x) {
    view = x;
  } else {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `${op} ${name} must be a DeviceTensor or a HeadView`, { expected: 'DeviceTensor | HeadView', received: x === null ? 'null' : typeof x });
  }
  requireTensor(view.tensor, op, name, ['f32', 'bf16']);
  const [b, t, h, d] = view.shape;
  const ints = [b, t, h, d, view.offset, view.batchStride, view.tokenStride, view.headStride];
  if (view.shape.length !== 4 || !ints.every((v) => Number.isSafeInteger(v) && v >= 0)) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `${op} ${name} view sizes, offset and strides must be non-negative integers`, { expected: 'integers >= 0', received: ints.join(', ') });
  }
  if (b > 0 && t > 0 && h > 0 && d > 0) {
    const last = view.offset + (b - 1) * view.batchStride + (t - 1) * view.tokenStride + (h - 1) * view.headStride + d;
    if (last > view.tensor.size) {
      throw shapeError(`${op} ${name} view runs past the end of its tensor`, `<= ${view.tensor.size} elements`, `${last} elements`);
    }
  }
  return { view, native: { buffer: view.tensor.buffer, offset: view.offset, batchStride: view.batchStride, tokenStride: view.tokenStride, headStride: view.headStride } };
}

interface AttentionDims {
  dtype: 'f32' | 'bf16';
  batch: number;
  heads: number;
  tq: number;
  tk: number;
  headDim: number;
}

/** Checks that every view agrees on B, H, Dh and dtype, queries on Tq and keys on Tk. */
function dimsOf(op: string, queries: [string, CheckedView][], keys: [string, CheckedView][]): AttentionDims {
  const [, first] = queries[0]!;
  const [b, tq, h, d] = first.view.shape;
  const tk = keys[0]![1].view.shape[1];
  const dtype = first.view.tensor.dtype as 'f32' | 'bf16';
  for (const [list, t] of [[queries, tq], [keys, tk]] as const) {
    for (const [name, v] of list) {
      const want = [b, t, h, d];
      if (v.view.shape.some((x, i) => x !== want[i])) {
        throw shapeError(`${op} ${name} has the wrong shape`, shapeText(want), shapeText(v.view.shape));
      }
      if (v.view.tensor.dtype !== dtype) {
        throw new Vit22bError('ERR_DTYPE_MISMATCH', `${op} ${name} must have the dtype of q`, { expected: dtype, received: v.view.tensor.dtype });
      }
    }
  }
  // The head-dim range and "at least one key" are the kernel's own rules (lib/kernels/attention_fwd.ts),
  // checked once, by the launcher.
  return { dtype, batch: b, heads: h, tq, tk, headDim: d };
}

function scaleOf(op: string, value: unknown, headDim: number): number {
  const s = scalar(value, op, 'scale', 1 / Math.sqrt(headDim));
  if (!(s > 0)) throw new Vit22bError('ERR_INVALID_ARGUMENT', `${op} option scale must be positive`, { expected: 'a finite number > 0', received: String(s) });
  return s;
}

function lseOf(op: string, lse: unknown, dims: AttentionDims): DeviceTensor {
  const t = requireTensor(lse, op, 'lse', ['f32']);
  requireShape(t, op, 'lse', [dims.batch, dims.heads, dims.tq]);
  return t;
}

export interface AttentionOptions {
  /** Multiplies Q K^T before the softmax. Default 1 / sqrt(headDim). */
  scale?: number;
}

export interface AttentionForwardOperands {
  q: AttentionOperand; // [B, Tq, H, Dh]
  k: AttentionOperand; // [B, Tk, H, Dh]
  v: AttentionOperand; // [B, Tk, H, Dh]
  o: AttentionOperand; // [B, Tq, H, Dh], written
  lse: DeviceTensor; // [B, H, Tq] f32, written
}

/**
 * O = softmax(scale * Q K^T) V and L = log-sum-exp of each score row, per batch and head.
 * f32 or bf16 storage (all operands the same), f32 math, O rounded once; lse is always f32. On the
 * CPU the result does not depend on the thread count.
 */
export function attentionForward(device: Device, operands: AttentionForwardOperands, options: AttentionOptions = {}): void {
  const op = 'attention_fwd';
  const q = viewOf(op, 'q', operands.q), o = viewOf(op, 'o', operands.o);
  const k = viewOf(op, 'k', operands.k), v = viewOf(op, 'v', operands.v);
  const dims = dimsOf(op, [['q', q], ['o', o]], [['k', k], ['v', v]]);
  const lse = lseOf(op, operands.lse, dims);
  device.native.launch(op, { ...dims, scale: scaleOf(op, options.scale, dims.headDim), q: q.native, k: k.native, v: v.native, o: o.native, lse: lse.buffer });
}

export interface AttentionBackwardOperands {
  q: AttentionOperand; // [B, Tq, H, Dh]
  k: AttentionOperand; // [B, Tk, H, Dh]
  v: AttentionOperand; // [B, Tk, H, Dh]
  o: AttentionOperand; // [B, Tq, H, Dh], the forward's output
  dO: AttentionOperand; // [B, Tq, H, Dh]
  lse: DeviceTensor; // [B, H, Tq] f32, the forward's lse
  dQ: AttentionOperand; // [B, Tq, H, Dh], written
  dK: AttentionOperand; // [B, Tk, H, Dh], written
  dV: AttentionOperand; // [B, Tk, H, Dh], written
}

/**
 * Gradients of attentionForward (same scale): dQ, dK, dV are overwritten. P is recomputed from Q,
 * K and lse; D = rowsum(dO * O). Deterministic: independent of the thread count.
 */
export function attentionBackward(device: Device, operands: AttentionBackwardOperands, options: AttentionOptions = {}): void {
  const op = 'attention_bwd';
  const names = ['q', 'o', 'dO', 'dQ', 'k', 'v', 'dK', 'dV'] as const;
  const views = Object.fromEntries(names.map((n) => [n, viewOf(op, n, operands[n])])) as Record<(typeof names)[number], CheckedView>;
  const dims = dimsOf(
    op,
    (['q', 'o', 'dO', 'dQ'] as const).map((n) => [n, views[n]]),
    (['k', 'v', 'dK', 'dV'] as const).map((n) => [n, views[n]]),
  );
  const lse = lseOf(op, operands.lse, dims);
  const { q, o, dO, dQ, k, v, dK, dV } = views;
  device.native.launch(op, {
    ...dims,
    scale: scaleOf(op, options.scale, dims.headDim),
    q: q.native,
    o: o.native,
    dO: dO.native,
    dQ: dQ.native,
    k: k.native,
    v: v.native,
    dK: dK.native,
    dV: dV.native,
    lse: lse.buffer,
  });
}

/**
 * Monitoring statistics of attention over Q [B, Tq, H, Dh] and K [B, Tk, H, Dh]: writes
 * out[0] = the largest logit scale * q . k and out[1] = the mean entropy (nats) of the softmax rows,
 * into `out` (f32 [2]). Deterministic on the CPU.
 */
export function attentionStats(device: Device, operands: { q: AttentionOperand; k: AttentionOperand }, out: DeviceTensor, options: AttentionOptions = {}): void {
  const op = 'attention_stats';
  const q = viewOf(op, 'q', operands.q), k = viewOf(op, 'k', operands.k);
  const dims = dimsOf(op, [['q', q]], [['k', k]]);
  requireShape(requireTensor(out, op, 'out', ['f32']), op, 'out', [2]);
  device.native.launch(op, { ...dims, scale: scaleOf(op, options.scale, dims.headDim), q: q.native, k: k.native, out: out.buffer });
}
