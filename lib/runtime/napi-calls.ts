import { loadedAddons } from './addon-loader';

/**
 * How many calls JavaScript has made into the native addons of this process so far (every method,
 * accessor and constructor; reading this count is not one). A training step through
 * LoadedPlan.run costs exactly one, whatever the plan's length: compare the count around a step.
 */
export function napiCallCount(): number {
  return loadedAddons().reduce((sum, addon) => sum + addon.native.napiCalls(), 0);
}
