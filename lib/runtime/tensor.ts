import { fromBf16, toBf16 } from './bf16';
import { allocHostArray, DTYPE_BYTES, hostArrayName, type DType, type HostArray } from './dtype';
import { Vit22bError } from './errors';
import type { NativeBuffer } from './native-types';

/**
 * A typed, shaped block of memory on a device. It owns its memory: call dispose() (or declare it
 * with `using`) when done. The garbage collector only reclaims what was forgotten, and such
 * reclaims are counted (Device.stats().reclaimedByGc) because they are bugs.
 */
export class DeviceTensor implements Disposable {
  readonly size: number;
  readonly bytes: number;

  /** @internal Created by Device.alloc / Device.tensor. */
  constructor(
    readonly deviceName: string,
    readonly dtype: DType,
    readonly shape: readonly number[],
    /** @internal */ readonly buffer: NativeBuffer,
  ) {
    this.size = shape.reduce((a, b) => a * b, 1);
    this.bytes = this.size * DTYPE_BYTES[dtype];
  }

  get disposed(): boolean {
    return this.buffer.disposed;
  }

  /**
   * Copies host data in. f32 takes a Float32Array; bf16 takes raw bits (Uint16Array) or a
   * Float32Array, rounded to bf16 on the way; i32 an Int32Array; u8 a Uint8Array.
   * The length must equal the tensor's size.
   */
  upload(data: HostArray): this {
    let payload: HostArray = data;
    if (this.dtype === 'bf16' && data instanceof Float32Array) payload = toBf16(data);
    const want = hostArrayName(this.dtype);
    // toStringTag, not constructor.name: a Node Buffer is a Uint8Array and must be accepted as one.
    if (payload[Symbol.toStringTag] !== want) {
      throw new Vit22bError('ERR_DTYPE_MISMATCH', `a ${this.dtype} tensor takes a ${want}`, {
        expected: want + (this.dtype === 'bf16' ? ' or Float32Array' : ''),
        received: data[Symbol.toStringTag] ?? typeof data,
      });
    }
    if (payload.length !== this.size) {
      throw new Vit22bError(
        'ERR_SHAPE_MISMATCH',
        `upload to a tensor of shape [${this.shape.join(', ')}] needs ${this.size} elements`,
        { expected: `${this.size} elements`, received: `${payload.length} elements` },
      );
    }
    this.buffer.upload(payload);
    return this;
  }

  /** Copies the tensor out in its storage type (bf16 as raw bits). Waits for queued work. */
  download(): HostArray {
    const out = allocHostArray(this.dtype, this.size);
    this.buffer.download(out);
    return out;
  }

  /** Copies the tensor out as f32 (bf16 widened exactly). */
  toFloat32(): Float32Array {
    const raw = this.download();
    if (raw instanceof Float32Array) return raw;
    if (raw instanceof Uint16Array) return fromBf16(raw);
    return Float32Array.from(raw);
  }

  dispose(): void {
    this.buffer.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
