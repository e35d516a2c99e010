import { addonAttempts, tryLoadAddon, type LoadedAddon } from './addon-loader';
import type { CudaReasonCode, NativeCudaDevice } from './native-types';
import { LIBRARY_FILES, searchLibrary, type VendorLibrary } from './library-search';

/**
 * Everything about CUDA on this machine, gathered without throwing: is the CUDA addon there, is
 * there a driver and a device, where are cuBLASLt and NCCL. Device selection ('auto' / 'cuda') and
 * `vit22b info` both read this one object.
 */

export type CudaUnavailableReason =
  | Exclude<CudaReasonCode, ''>
  | 'addon-missing'
  | 'cublaslt-missing';

export interface VendorLibraryStatus {
  found: boolean;
  path?: string;
  version?: string;
  /** Why it is missing (when not found). */
  reason?: string;
  /** Every folder looked in, in order. */
  searched: string[];
  /** Files that exist but failed to load, with dlopen's message. */
  failures: { candidate: string; error: string }[];
}

export interface CudaStatus {
  available: boolean;
  reasonCode?: CudaUnavailableReason;
  reason?: string;
  /** "13.0", or null when no driver is installed. */
  driverVersion: string | null;
  /** The CUDA runtime linked into the addon. */
  runtimeVersion: string | null;
  devices: {
    index: number;
    name: string;
    memoryBytes: number;
    smCount: number;
    computeCapability: string;
    pciBusId: string;
  }[];
  cublasLt: VendorLibraryStatus;
  nccl: VendorLibraryStatus;
}

function cudaVersion(v: number): string | null {
  return v > 0 ? `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}` : null;
}

function notSearched(reason: string): VendorLibraryStatus {
  return { found: false, reason, searched: [], failures: [] };
}

function loadVendor(addon: LoadedAddon, library: VendorLibrary): VendorLibraryStatus {
  const search = searchLibrary(library);
  const loader = library === 'cublasLt' ? addon.native.loadCublasLt : addon.native.loadNccl;
  if (!loader) return notSearched('the loaded addon cannot open CUDA libraries');
  const result = loader(search.candidates);
  // Bare sonames that ld.so did not find are not failures of a file, just absences.
  const failures = result.attempts.filter(
    (a) => a.candidate.includes('/') && !/No such file or directory/.test(a.error),
  );
  if (result.found) {
    return {
      found: true,
      path: result.path,
      version: result.versionString,
      searched: search.searched,
      failures,
    };
  }
  const name = library === 'cublasLt' ? 'cuBLASLt' : 'NCCL';
  const reason =
    failures.length > 0
      ? `${name} was found but failed to load: ${failures.map((f) => `${f.candidate}: ${f.error}`).join('; ')}`
      : `set VIT22B_CUDA_LIBS to the folder holding ${LIBRARY_FILES[library][0]}, or install it (e.g. pip install nvidia-${library === 'cublasLt' ? 'cublas' : 'nccl-cu13'})`;
  return { found: false, reason, searched: search.searched, failures };
}

let cached: CudaStatus | undefined;

/** Probes once per process (the driver, the devices and the libraries do not change under us). */
export function cudaStatus(): CudaStatus {
  if (cached) return cached;
  const addon = tryLoadAddon('cuda');
  if (!addon || !addon.native.cudaProbe) {
    const looked = addonAttempts('cuda')
      .map((a) => `${a.path} (${a.reason ?? a.status})`)
      .join(', ');
    const reason = `the CUDA addon is not available: ${looked || 'not built'}`;
    return (cached = {
      available: false,
      reasonCode: 'addon-missing',
      reason,
      driverVersion: null,
      runtimeVersion: null,
      devices: [],
      cublasLt: notSearched('the CUDA addon is not available'),
      nccl: notSearched('the CUDA addon is not available'),
    });
  }
  const probe = addon.native.cudaProbe();
  const devices = probe.devices.map((d: NativeCudaDevice) => ({ ...d }));
  const cublasLt = loadVendor(addon, 'cublasLt');
  const nccl = loadVendor(addon, 'nccl');
  const status: CudaStatus = {
    available: false,
    driverVersion: cudaVersion(probe.driverVersion),
    runtimeVersion: cudaVersion(probe.runtimeVersion),
    devices,
    cublasLt,
    nccl,
  };
  if (!probe.usable) {
    status.reasonCode = probe.reasonCode === '' ? 'error' : probe.reasonCode;
    status.reason = probe.reason;
  } else if (!cublasLt.found) {
    status.reasonCode = 'cublaslt-missing';
    status.reason = `${cublasLt.reason} (searched: ${cublasLt.searched.join(', ')})`;
  } else {
    status.available = true;
  }
  return (cached = status);
}
