/**
 * Kernel launches that bypass the compiler's check of the spec, for the tests of the addon's own
 * validation (the last line of defence): a wrong dtype name, a missing or mistyped field, a value
 * out of range. `device.native.launch(kernel, spec)` takes `KernelSpec<K>`, derived from the
 * kernel's declaration (lib/kernels/<kernel>.ts), so the compiler rejects such specs before they
 * reach the addon. A test that launches a valid spec calls `device.native.launch` directly.
 */
import type { Device } from '../../lib';

/** device.native.launch(kernel, spec) with a spec the compiler would reject (the one cast). */
export function launchUntyped(device: Device, kernel: string, spec: object): void {
  const launch = device.native.launch as (kernel: string, spec: object) => void;
  launch.call(device.native, kernel, spec);
}
