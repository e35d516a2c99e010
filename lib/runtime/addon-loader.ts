import * as fs from 'node:fs';
import * as path from 'node:path';

import { Vit22bError } from './errors';
import type { NativeAddon } from './native-types';
import { packageRoot } from './package-root';

/**
 * Finds and loads the native addons. Two exist: `cpu` (node-gyp) and `cuda` (cmake-js; it carries
 * the CPU backend too). Each is looked for first in build/ (a developer's fresh build from source),
 * then in prebuilds/<platform>-<arch>/ (what the published package ships), and loaded at most once
 * per process. Every look is recorded, so `vit22b info` can say which file was loaded and why the
 * others were not.
 */

export type AddonVariant = 'cpu' | 'cuda';

export interface AddonAttempt {
  variant: AddonVariant;
  path: string;
  status: 'loaded' | 'missing' | 'failed' | 'skipped';
  reason?: string;
}

export interface LoadedAddon {
  variant: AddonVariant;
  path: string;
  native: NativeAddon;
}

export const PLATFORM = `${process.platform}-${process.arch}`;

export function addonCandidates(variant: AddonVariant, root = packageRoot()): string[] {
  const built =
    variant === 'cpu'
      ? path.join(root, 'build', 'Release', 'vit22b_cpu.node')
      : path.join(root, 'build', 'cuda', 'Release', 'vit22b_cuda.node');
  const prebuilt = path.join(root, 'prebuilds', PLATFORM, `vit22b-${variant}.node`);
  return [built, prebuilt];
}

const loaded = new Map<AddonVariant, LoadedAddon>();
const attempts = new Map<AddonVariant, AddonAttempt[]>();
function loadFile(file: string): NativeAddon {
  // process.dlopen works the same from the CommonJS and the ESM build (no createRequire needed).
  const mod = { exports: {} as NativeAddon };
  process.dlopen(mod, file);
  return mod.exports;
}

/** Loads `variant`, or returns undefined when no candidate loads; see `addonAttempts`. */
export function tryLoadAddon(variant: AddonVariant): LoadedAddon | undefined {
  const done = loaded.get(variant);
  if (done) return done;
  if (attempts.has(variant)) return undefined; // tried before and failed: do not retry every call
  const tried: AddonAttempt[] = [];
  attempts.set(variant, tried);
  const files = addonCandidates(variant);
  for (const [i, file] of files.entries()) {
    if (!fs.existsSync(file)) {
      tried.push({ variant, path: file, status: 'missing', reason: 'no such file' });
      continue;
    }
    try {
      const native = loadFile(file);
      // From here on, native failures arrive as Vit22bError instances with their stable codes.
      native.setErrorClass(Vit22bError as unknown as Parameters<NativeAddon['setErrorClass']>[0]);
      tried.push({ variant, path: file, status: 'loaded' });
      for (const rest of files.slice(i + 1)) {
        tried.push({ variant, path: rest, status: 'skipped', reason: `${path.basename(file)} from an earlier location loaded` });
      }
      const addon = { variant, path: file, native };
      loaded.set(variant, addon);
      return addon;
    } catch (e) {
      tried.push({ variant, path: file, status: 'failed', reason: (e as Error).message });
    }
  }
  return undefined;
}

/** Every addon loaded so far in this process. */
export function loadedAddons(): LoadedAddon[] {
  return [...loaded.values()];
}

/** The addon loaded from `file`, if any. */
export function loadedAddonAt(file: string): LoadedAddon | undefined {
  return [...loaded.values()].find((a) => a.path === file);
}

export function addonAttempts(variant: AddonVariant): AddonAttempt[] {
  return attempts.get(variant) ?? [];
}

/** Like tryLoadAddon, but throws ERR_ADDON_NOT_FOUND / ERR_ADDON_LOAD_FAILED naming every file tried. */
export function loadAddon(variant: AddonVariant): LoadedAddon {
  const addon = tryLoadAddon(variant);
  if (addon) return addon;
  const tried = addonAttempts(variant);
  const failed = tried.filter((a) => a.status === 'failed');
  const list = tried.map((a) => `${a.path}: ${a.reason ?? a.status}`).join('; ');
  if (failed.length > 0) {
    throw new Vit22bError('ERR_ADDON_LOAD_FAILED', `the ${variant} addon failed to load (${list})`, {
      expected: `a loadable vit22b-${variant}.node for ${PLATFORM}`,
      received: failed.map((a) => a.reason).join('; '),
      attempts: tried,
    });
  }
  const hint =
    PLATFORM === 'linux-x64'
      ? 'reinstall vit22b, or build from source with `npm install` in a clone'
      : `vit22b ships binaries for linux-x64 only; this is ${PLATFORM}`;
  throw new Vit22bError('ERR_ADDON_NOT_FOUND', `no ${variant} addon found (${list}); ${hint}`, {
    expected: `vit22b-${variant}.node for ${PLATFORM}`,
    received: 'no file',
    attempts: tried,
  });
}

/** The addon that carries the CPU backend: the CPU one, else the CUDA one (which contains it). */
export function loadCpuCapableAddon(): LoadedAddon {
  const cpu = tryLoadAddon('cpu');
  if (cpu) return cpu;
  const cuda = tryLoadAddon('cuda');
  if (cuda) return cuda;
  return loadAddon('cpu'); // throws, naming what was tried
}
