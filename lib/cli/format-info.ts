import type { SystemInfo } from '../runtime/info';

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

function yesNo(v: boolean): string {
  return v ? 'yes' : 'no';
}

/** The human form of `vit22b info`. Everything here is also in the --json object. */
export function formatInfo(info: SystemInfo): string {
  const lines: string[] = [];
  const row = (label: string, value: string): void => {
    lines.push(`  ${label.padEnd(12)} ${value}`);
  };
  lines.push(
    `vit22b ${info.package.version}  (node ${info.node.version}, N-API ${info.node.napi}, ${info.node.platform})`,
    '',
    'Addon',
  );
  const loaded = info.addon.loaded;
  if (loaded) row('loaded', `${loaded.variant}: ${loaded.path}${loaded.build.compiler ? `  (${loaded.build.compiler})` : ''}`);
  else row('loaded', `none: ${info.addon.error ?? 'no addon could be loaded'}`);
  for (const c of info.addon.candidates) {
    if (loaded && c.path === loaded.path) continue;
    row(c.variant, `${c.path}: ${c.status}${c.reason ? ` (${c.reason})` : ''}`);
  }

  lines.push('', 'CPU');
  if (info.cpu) {
    const f = info.cpu.features;
    row('model', `${info.cpu.model} (${info.cpu.vendor}), ${info.cpu.threads} threads`);
    row(
      'features',
      `AVX2 ${yesNo(f.avx2)}, FMA ${yesNo(f.fma)}, AVX-512F ${yesNo(f.avx512f)}, AVX512-BF16 ${yesNo(f.avx512bf16)}`,
    );
    row('kernels', `${info.cpu.kernelIsa} code path, ${info.cpu.kernelThreads} threads`);
  } else {
    row('model', info.cpuError ? `unavailable: ${info.cpuError}` : 'unknown (no addon loaded)');
  }

  const cuda = info.cuda;
  lines.push('', 'CUDA');
  row('status', cuda.available ? 'available' : `unavailable: ${cuda.reason ?? 'unknown reason'}`);
  row('driver', cuda.driverVersion ? `CUDA ${cuda.driverVersion}` : 'none');
  row('runtime', cuda.runtimeVersion ? `${cuda.runtimeVersion} (linked statically)` : 'n/a');
  if (cuda.devices.length === 0) row('devices', 'none');
  for (const d of cuda.devices) {
    row(`gpu ${d.index}`, `${d.name}, ${gib(d.memoryBytes)}, ${d.smCount} SMs, compute ${d.computeCapability}`);
  }
  for (const [label, lib] of [['cuBLASLt', cuda.cublasLt], ['NCCL', cuda.nccl]] as const) {
    if (lib.found) row(label, `${lib.version} at ${lib.path}`);
    else row(label, `not found: ${lib.reason}${lib.searched.length ? ` (searched ${lib.searched.length} places; --json lists them)` : ''}`);
  }
  const multi = info.multiProcessGpu;
  row('multi-GPU', multi.possible ? `possible: ${multi.reason}` : `not possible: ${multi.reason}`);

  lines.push('', 'Default device');
  if (info.defaultDevice) {
    row('device', `${info.defaultDevice.name}: ${info.defaultDevice.reason}`);
  } else {
    row('device', 'none');
  }
  const st = info.selfTest;
  row(
    'self-test',
    st.ok
      ? `ok (axpby on ${st.device}, max abs error ${st.maxAbsError})`
      : `FAILED: ${st.error ?? `max abs error ${st.maxAbsError}`}`,
  );
  return lines.join('\n') + '\n';
}
