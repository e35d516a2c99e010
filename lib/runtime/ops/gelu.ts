/**
 * GELU forward and backward (native kernels gelu_fwd / gelu_bwd), on every element or on a column
 * range of the last dimension: y[..., c0:c1] = gelu(x[..., c0:c1]), the other columns copied. The
 * range form is the fused QKV + MLP-in projection's output [B, T, 3D + F], whose MLP part alone
 * goes through GELU. An optional bias [end - begin] (f32 or bf16) is added to the range before the
 * GELU: y[..., c] = gelu(x[..., c] + bias[c - begin]), the add in f32 (the projection's bias folded
 * into the activation). Row strides (column windows of wider matrices) are on the kernel spec only
 * (lib/kernels/gelu_fwd.ts GeluFwdArgs).
 */
import type { KernelSpec } from '../../kernels/spec';
import type { Device } from '../device';
import { Vit22bError } from '../errors';
import type { NativeBuffer } from '../native-types';
import type { DeviceTensor } from '../tensor';
import { count, requireSameDType, requireShape, requireTensor, shapeError, shapeText } from './check';

export type GeluForm = 'tanh' | 'erf';

export interface GeluOptions {
  /** 'tanh' (default: the approximation JAX and ViT-22B use) or 'erf' (the exact x * Phi(x)). */
  form?: GeluForm;
  /** [begin, end) of the last dimension to apply GELU to; default all of it. */
  columns?: readonly [number, number];
  /** [end - begin] of f32 or bf16, added to x on the chosen columns before the GELU. */
  bias?: DeviceTensor;
}

const STORAGE = ['f32', 'bf16'] as const;

interface Layout {
  form: GeluForm;
  rows: number;
  cols: number;
  colBegin: number;
  colEnd: number;
}

function layoutOf(x: DeviceTensor, op: string, options: GeluOptions): Layout {
  const form = options.form ?? 'tanh';
  if (form !== 'tanh' && form !== 'erf') {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `${op} option form must be 'tanh' or 'erf'`, {
      expected: "'tanh' | 'erf'",
      received: String(form),
    });
  }
  if (x.shape.length === 0) throw shapeError(`${op} x must have at least one dimension`, '[..., cols]', shapeText(x.shape));
  const cols = x.shape[x.shape.length - 1]!;
  const rows = cols === 0 ? 0 : x.size / cols;
  if (options.columns === undefined) return { form, rows, cols, colBegin: 0, colEnd: cols };
  if (!Array.isArray(options.columns) || options.columns.length !== 2) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `${op} option columns must be [begin, end]`, {
      expected: '[begin, end]',
      received: JSON.stringify(options.columns),
    });
  }
  const colBegin = count(options.columns[0], op, 'columns[0]');
  const colEnd = count(options.columns[1], op, 'columns[1]');
  if (colBegin > colEnd || colEnd > cols) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `${op} option columns is out of bounds`, {
      expected: `0 <= begin <= end <= ${cols}`,
      received: `[${colBegin}, ${colEnd})`,
    });
  }
  return { form, rows, cols, colBegin, colEnd };
}

/** The spec fields of the optional bias, checked against the column range. */
function biasFields(op: string, layout: Layout, options: GeluOptions): Pick<KernelSpec<'gelu_fwd', NativeBuffer>, 'bias' | 'biasType'> {
  if (options.bias === undefined) return {};
  const bias = requireTensor(options.bias, op, 'bias', STORAGE);
  requireShape(bias, op, 'bias', [layout.colEnd - layout.colBegin]);
  return { bias: bias.buffer, biasType: bias.dtype };
}

/** y = gelu(x [+ bias]) on the chosen columns, x copied elsewhere; y may be x. */
export function gelu(device: Device, x: DeviceTensor, y: DeviceTensor, options: GeluOptions = {}): void {
  const op = 'gelu';
  const { dtype } = requireTensor(x, op, 'x', STORAGE);
  requireTensor(y, op, 'y', STORAGE);
  requireSameDType(x, y, op, 'x and y');
  requireShape(y, op, 'y', x.shape);
  const layout = layoutOf(x, op, options);
  device.native.launch('gelu_fwd', { dtype, ...layout, ...biasFields(op, layout, options), x: x.buffer, y: y.buffer });
}

/** dx = dy * gelu'(x [+ bias]) on the chosen columns, dy elsewhere; dx may be dy (not x). */
export function geluBackward(device: Device, x: DeviceTensor, dy: DeviceTensor, dx: DeviceTensor, options: GeluOptions = {}): void {
  const op = 'geluBackward';
  const { dtype } = requireTensor(x, op, 'x', STORAGE);
  for (const [t, name] of [[dy, 'dy'], [dx, 'dx']] as const) {
    requireTensor(t, op, name, STORAGE);
    requireSameDType(x, t, op, `x and ${name}`);
    requireShape(t, op, name, x.shape);
  }
  const layout = layoutOf(x, op, options);
  device.native.launch('gelu_bwd', { dtype, ...layout, ...biasFields(op, layout, options), x: x.buffer, dy: dy.buffer, dx: dx.buffer });
}
