/**
 * Typed errors. Every failure vit22b reports (from TypeScript or from native code, which builds its
 * errors with this same class) is a Vit22bError with a stable `code`, and where both are known, what
 * was expected and what was received.
 */

/** The stable codes. Native codes (native/core/status.h) are a subset; never rename one. */
export const ERROR_CODES = [
  'ERR_INVALID_ARGUMENT',
  'ERR_SHAPE_MISMATCH',
  'ERR_DTYPE_MISMATCH',
  'ERR_DISPOSED',
  'ERR_DEVICE_MISMATCH',
  'ERR_HOST_OOM',
  'ERR_DEVICE_OOM',
  'ERR_DEVICE_LOST',
  'ERR_CUDA_UNAVAILABLE',
  'ERR_CUDA',
  'ERR_LIBRARY_NOT_FOUND',
  'ERR_ADDON_NOT_FOUND',
  'ERR_ADDON_LOAD_FAILED',
  'ERR_NOT_IMPLEMENTED',
  /** A NaN or infinite loss or gradient norm stopped a training step before its update (`details.step` when a trainer ran it). */
  'ERR_NON_FINITE',
  /** A plan (lib/runtime/plan-format.ts) that cannot run: the message names stream, instruction and field. */
  'ERR_INVALID_PLAN',
  /** A plan step is running on the device: await its run() before touching the device. */
  'ERR_DEVICE_BUSY',
  /**
   * A collective of a mesh run waited past the mesh's timeoutMs: the message names the collective, the
   * axis, the waiting rank with its coordinates, the step and the ranks that never arrived.
   */
  'ERR_COLLECTIVE_TIMEOUT',
  /** A collective stopped because another rank of the mesh failed (the run reports that rank's error). */
  'ERR_COLLECTIVE_ABORTED',
  /**
   * A collective between processes (`--comm mpi`, nccl) waited past `--comm-timeout`: the message
   * names the collective, the mesh axis, this rank with its coordinates, the step and, where knowable,
   * the ranks whose data never came. The communicators are unusable afterwards; the run ends.
   */
  'ERR_COMM_TIMEOUT',
  /** A peer process of a multi-process run died or its link failed (NCCL's remote error, MPI's error return). */
  'ERR_COMM_PEER_LOST',
  'ERR_USAGE',
  /** A model configuration field that is missing or wrong: `details.field` names it. */
  'ERR_INVALID_CONFIG',
  /** A data set that is not where it was looked for: `details.searched` lists every place looked. */
  'ERR_DATA_NOT_FOUND',
  /** A data file that cannot be what it claims (bad magic, truncated, label out of range): `details.file`, `details.index`. */
  'ERR_DATA_CORRUPT',
  /** An optional peer dependency (sharp, for image folders) that is not installed: `details.dependency`. */
  'ERR_DEPENDENCY_MISSING',
  /**
   * A safetensors file (or a checkpoint's file) that breaks a rule of the format, or one that does not
   * match what reads it: `details.file` names it, `details.rule` the stable name of the rule broken.
   */
  'ERR_SAFETENSORS',
  /**
   * A checkpoint that cannot be used: missing or corrupt (a hash, a size), or made for another model
   * or run (config, shapes, dtypes). `details.file` names the file, `details.rule` the cause.
   */
  'ERR_CHECKPOINT',
  /**
   * A file-system operation failed: a file where a folder is needed, a folder where a file is needed,
   * a read-only file system, a full disk, no permission. `details.file` names the path; `received` is
   * the system's code (ENOTDIR, EISDIR, EROFS, ENOSPC, EACCES, ...).
   */
  'ERR_IO',
  'ERR_INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorDetails {
  expected?: string;
  received?: string;
  /** Anything else that helps a user act: a reason code, the places searched, a file. */
  [key: string]: unknown;
}

export class Vit22bError extends Error {
  readonly code: ErrorCode;
  readonly expected?: string;
  readonly received?: string;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message);
    this.name = 'Vit22bError';
    this.code = code;
    this.details = details;
    if (details.expected !== undefined) this.expected = details.expected;
    if (details.received !== undefined) this.received = details.received;
  }
}

export function isVit22bError(e: unknown, code?: ErrorCode): e is Vit22bError {
  return e instanceof Vit22bError && (code === undefined || e.code === code);
}
