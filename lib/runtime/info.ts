import {
  addonAttempts,
  addonCandidates,
  loadedAddonAt,
  PLATFORM,
  type AddonAttempt,
  type AddonVariant,
} from './addon-loader';
import { cudaStatus, type CudaStatus } from './cuda-status';
import { openDevice, type Device } from './device';
import type { NativeBuildInfo, NativeCpuInfo } from './native-types';
import { multiProcessGpu, type MultiProcessGpuStatus } from './nccl-status';
import { packageVersion } from './package-root';

/**
 * Everything `vit22b info` reports, as one plain object (the --json output). Gathering it never
 * throws on a machine without a GPU: failures are reported inside the object.
 */
export interface SystemInfo {
  package: { name: 'vit22b'; version: string };
  node: { version: string; napi: string; platform: string };
  addon: {
    /** The addon the default device runs on. */
    loaded: { variant: AddonVariant; path: string; build: NativeBuildInfo } | null;
    /** Every addon file considered, with why it was or was not loaded. */
    candidates: AddonAttempt[];
    error?: string;
  };
  cpu: NativeCpuInfo | null;
  /** Why `cpu` is null although an addon loaded. */
  cpuError?: string;
  cuda: CudaStatus;
  /** Can this machine run one process per GPU over NCCL (`vit22b launch --comm nccl`), or why not. */
  multiProcessGpu: MultiProcessGpuStatus;
  defaultDevice: { kind: 'cpu' | 'cuda'; name: string; reason: string } | null;
  /** One kernel run on the default device and checked against plain JavaScript. */
  selfTest: { ok: boolean; device?: string; maxAbsError?: number; error?: string };
}

function runSelfTest(device: Device): SystemInfo['selfTest'] {
  const n = 1031;
  const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 3);
  const y = Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.11) - 0.5);
  using tx = device.tensor('f32', [n], x);
  using ty = device.tensor('f32', [n], y);
  device.axpby(1.5, tx, -0.25, ty);
  const got = ty.download() as Float32Array;
  let maxAbsError = 0;
  for (let i = 0; i < n; i++) {
    maxAbsError = Math.max(maxAbsError, Math.abs(got[i]! - (1.5 * x[i]! - 0.25 * y[i]!)));
  }
  // Both sides round to f32 once per operation; 1e-5 is a few ulps at these magnitudes.
  return { ok: maxAbsError <= 1e-5, device: device.name, maxAbsError };
}

function describeCandidates(usedVariant: AddonVariant | undefined): AddonAttempt[] {
  const out: AddonAttempt[] = [];
  for (const variant of ['cuda', 'cpu'] as const) {
    const tried = addonAttempts(variant);
    if (tried.length > 0) {
      for (const a of tried) {
        const probing = a.status === 'loaded' && variant !== usedVariant;
        out.push(probing ? { ...a, reason: 'loaded to probe CUDA; the default device runs elsewhere' } : a);
      }
      continue;
    }
    const reason =
      variant === 'cpu' && usedVariant === 'cuda'
        ? 'not needed: the CUDA addon carries the CPU backend too'
        : 'not needed';
    for (const p of addonCandidates(variant)) out.push({ variant, path: p, status: 'skipped', reason });
  }
  return out;
}

export function systemInfo(): SystemInfo {
  const cuda = cudaStatus();
  const info: SystemInfo = {
    package: { name: 'vit22b', version: packageVersion() },
    node: { version: process.version, napi: process.versions.napi ?? 'unknown', platform: PLATFORM },
    addon: { loaded: null, candidates: [] },
    cpu: null,
    cuda,
    multiProcessGpu: multiProcessGpu(cuda),
    defaultDevice: null,
    selfTest: { ok: false },
  };
  try {
    using device = openDevice({ device: 'auto' });
    info.defaultDevice = { kind: device.kind, name: device.name, reason: device.selection.reason };
    const addon = loadedAddonAt(device.selection.addonPath);
    if (addon) {
      info.addon.loaded = { variant: addon.variant, path: addon.path, build: addon.native.build };
      try {
        info.cpu = addon.native.cpuInfo();
      } catch (e) {
        // A bad VIT22B_CPU_ISA / VIT22B_NUM_THREADS: say so, and go on describing the rest.
        info.cpuError = `${(e as { code?: string }).code ?? 'Error'}: ${(e as Error).message}`;
      }
    }
    info.selfTest = runSelfTest(device);
  } catch (e) {
    const err = e as Error & { code?: string };
    const text = `${err.code ?? 'Error'}: ${err.message}`;
    if (info.defaultDevice) info.selfTest = { ok: false, error: text };
    else info.addon.error = text;
  }
  info.addon.candidates = describeCandidates(info.addon.loaded?.variant);
  return info;
}
