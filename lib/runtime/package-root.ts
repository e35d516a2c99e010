import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The installed package's root folder, found by walking up from this module to the package.json
 * named "vit22b". Works from the sources (lib/runtime), the bundle (dist/) and an installed copy
 * (node_modules/vit22b/dist).
 */
let cachedRoot: string | undefined;

export function packageRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = __dirname;
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest)) {
      try {
        const pkg = JSON.parse(fs.readFileSync(manifest, 'utf8')) as { name?: string };
        if (pkg.name === 'vit22b') return (cachedRoot = dir);
      } catch {
        // an unreadable package.json on the way up is not ours; keep walking
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`vit22b: cannot find the package root above ${__dirname}`);
    dir = parent;
  }
}

export function packageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}
