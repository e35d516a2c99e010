/**
 * patchify(images [B, H, W, C]) -> [B, (H/p)(W/p), p*p*C]: non-overlapping p x p patches in
 * row-major grid order (the patch embedding is then a matmul). unpatchify is its exact inverse and
 * its gradient.
 */
import type { Node, Value } from '../ir';
import type { Attrs, GradContext, LowerContext, OpDef } from '../op-def';
import { shapeText, type TensorType } from '../types';
import { numberAttr, requireArity, requireDType, requireRank, shapeMismatch, storageOf } from './check';

function kernelDims(images: readonly number[], p: number) {
  const [b, h, w, c] = images as [number, number, number, number];
  return { b, h, w, c, p };
}

export const patchifyOp: OpDef = {
  name: 'patchify',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    requireArity('patchify', inputs, 1);
    const x = inputs[0]!;
    requireRank('patchify', 'images', x, 4);
    requireDType('patchify', 'images', x, ['f32', 'bf16']);
    const p = numberAttr('patchify', 'patch', attrs.patch, { integer: true, min: 1 });
    const [b, h, w, c] = x.shape as [number, number, number, number];
    if (h % p !== 0 || w % p !== 0) {
      throw shapeMismatch('patchify', `image sides must be multiples of the patch size ${p}`, `H and W multiples of ${p}`, shapeText(x.shape));
    }
    return [{ shape: [b, (h / p) * (w / p), p * p * c], dtype: x.dtype }];
  },
  grad(ctx: GradContext): (Value | null)[] {
    const dy = ctx.dy[0];
    if (!dy || !ctx.needs[0]) return [null];
    return [ctx.g.apply('unpatchify', [dy], { patch: ctx.node.attrs.patch, imageShape: ctx.node.inputs[0]!.shape })];
  },
  cheap: true,
  lower(ctx: LowerContext, node: Node): void {
    const x = node.inputs[0] as Value;
    ctx.emit('patchify', { dtype: storageOf('patchify', 'images', x.dtype), ...kernelDims(x.shape, node.attrs.patch as number), images: ctx.view(x), patches: ctx.view(node.outputs[0]!) });
  },
};

export const unpatchifyOp: OpDef = {
  name: 'unpatchify',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    requireArity('unpatchify', inputs, 1);
    const shape = attrs.imageShape as readonly number[];
    const p = numberAttr('unpatchify', 'patch', attrs.patch, { integer: true, min: 1 });
    const [b, h, w, c] = shape as [number, number, number, number];
    const want = [b, (h / p) * (w / p), p * p * c];
    const got = inputs[0]!.shape;
    if (got.length !== 3 || got.some((d, i) => d !== want[i])) throw shapeMismatch('unpatchify', 'patches have the wrong shape', shapeText(want), shapeText(got));
    return [{ shape, dtype: inputs[0]!.dtype }];
  },
  grad(ctx: GradContext): (Value | null)[] {
    const dy = ctx.dy[0];
    if (!dy || !ctx.needs[0]) return [null];
    return [ctx.g.apply('patchify', [dy], { patch: ctx.node.attrs.patch })];
  },
  cheap: true,
  lower(ctx: LowerContext, node: Node): void {
    const y = node.outputs[0]!;
    ctx.emit('unpatchify', { dtype: storageOf('unpatchify', 'images', y.dtype), ...kernelDims(y.shape, node.attrs.patch as number), images: ctx.view(y), patches: ctx.view(node.inputs[0] as Value) });
  },
};
