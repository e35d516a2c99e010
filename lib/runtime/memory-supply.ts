/**
 * What a device can still give, compared with what a compiled step needs before anything is
 * allocated. The planner knows a step's arena and buffers exactly; a step that cannot fit is refused
 * at once with both figures (ERR_HOST_OOM on the CPU, ERR_DEVICE_OOM on CUDA), instead of allocating
 * for seconds and failing inside the allocator, or being killed by the kernel's OOM killer.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { Device } from './device';
import { Vit22bError } from './errors';

export interface MemorySupply {
  bytes: number;
  /** Where the figure comes from, for the message. */
  what: string;
}

/** Host memory the kernel says is available (MemAvailable: free plus reclaimable cache). */
function hostAvailable(): MemorySupply {
  try {
    // /proc/meminfo is a fixed kernel file (size 0 to fstat, so read it plainly).
    const m = /^MemAvailable:\s+(\d+) kB$/m.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
    if (m) return { bytes: Number(m[1]) * 1024, what: 'available host memory (MemAvailable)' };
  } catch {
    // not Linux: fall through
  }
  return { bytes: os.freemem(), what: 'free host memory' };
}

/**
 * The memory a new allocation on `device` can use: host RAM available for the CPU; for CUDA, the
 * card's memory less what this process's allocator holds in use (cached blocks are reused first).
 */
export function memorySupply(device: Device): MemorySupply | undefined {
  if (device.kind === 'cpu') return hostAvailable();
  const total = device.selection.memoryBytes;
  if (total === undefined) return undefined;
  const used = device.stats().allocator?.allocatedBytes ?? 0;
  return { bytes: Math.max(0, total - used), what: `device memory not in use by this process (${total} bytes on the card)` };
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
}

/**
 * Throws ERR_HOST_OOM / ERR_DEVICE_OOM when `needBytes` (a step's arena plus the buffers it would
 * allocate) is above what `device` can supply. `parts` says what the need is made of.
 */
export function checkMemoryFits(device: Device, needBytes: number, parts: Record<string, number>): void {
  const supply = memorySupply(device);
  if (supply === undefined || needBytes <= supply.bytes) return;
  const code = device.kind === 'cpu' ? 'ERR_HOST_OOM' : 'ERR_DEVICE_OOM';
  const of = Object.entries(parts)
    .map(([k, v]) => `${k} ${gib(v)}`)
    .join(' + ');
  throw new Vit22bError(code, `the step needs ${gib(needBytes)} (${of}) but ${device.name} has ${gib(supply.bytes)} of ${supply.what}: use a smaller batch, --remat block, or a smaller model`, {
    expected: `at most ${supply.bytes} bytes (${supply.what})`,
    received: `${needBytes} bytes needed`,
    needBytes,
    supplyBytes: supply.bytes,
    ...parts,
  });
}
