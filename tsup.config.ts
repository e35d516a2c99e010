import { defineConfig } from 'tsup';

// The library ships as CommonJS (dist/index.js) and ESM (dist/index.mjs) with declarations; the CLI
// only as CommonJS (dist/cli.js, with its shebang). `shims` gives the ESM build a __dirname, which
// the addon loader uses to find the package root.
export default defineConfig([
  {
    entry: { index: 'lib/index.ts' },
    format: ['cjs', 'esm'],
    dts: true,
    shims: true,
    target: 'node20',
    platform: 'node',
    sourcemap: true,
    clean: true,
  },
  {
    entry: { cli: 'lib/cli/main.ts' },
    format: ['cjs'],
    target: 'node20',
    platform: 'node',
    sourcemap: true,
  },
  // The kernel table's GPU runner (test/cases/gpu-runner.ts) with every case file, for GPU machines
  // without node_modules; it requires dist/index.js at run time (through test/gpu/check-harness.cjs),
  // so the addon loader finds the addons as the package does. Not shipped: package.json "files".
  {
    entry: { 'kernel-checks': 'test/cases/gpu-runner.ts' },
    format: ['cjs'],
    outExtension: () => ({ js: '.cjs' }),
    target: 'node20',
    platform: 'node',
  },
]);
