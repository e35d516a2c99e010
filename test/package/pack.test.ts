// The published package must work with no compiler and no install script: pack the repository as
// npm would publish it, install the tarball into an empty project with --ignore-scripts (and
// offline: nothing may be downloaded), and run what a user runs.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function sh(cmd: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r;
}

describe('the packed tarball', () => {
  let tmp: string;
  let app: string;
  let files: string[];

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-pack-'));
    // --ignore-scripts: `prepare` already ran in this checkout (npm install); packing must not rebuild.
    const packed = sh(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], root);
    const meta = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    files = meta[0]!.files.map((f) => f.path);
    app = path.join(tmp, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    sh(npm, ['install', '--ignore-scripts', '--offline', '--no-audit', '--no-fund', path.join(tmp, meta[0]!.filename)], app);
  }, 180_000);

  afterAll(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('ships dist and the prebuilt addons, not the sources or a binding.gyp', () => {
    expect(files).toEqual(expect.arrayContaining(['dist/index.js', 'dist/index.mjs', 'dist/index.d.ts', 'dist/cli.js', 'prebuilds/linux-x64/vit22b-cpu.node', 'README.md', 'package.json']));
    // The CUDA addon ships whenever this machine could build it (nvcc present).
    const cudaBuilt = fs.existsSync(path.join(root, 'prebuilds', 'linux-x64', 'vit22b-cuda.node'));
    expect(files.includes('prebuilds/linux-x64/vit22b-cuda.node')).toBe(cudaBuilt);
    // A binding.gyp in the tarball would make npm run `node-gyp rebuild` at install time.
    expect(files.filter((f) => f === 'binding.gyp' || f.startsWith('native/') || f.startsWith('lib/'))).toEqual([]);
  });

  test('declares no install-time script', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(app, 'node_modules', 'vit22b', 'package.json'), 'utf8')) as {
      scripts?: Record<string, string>;
      dependencies?: Record<string, string>;
    };
    for (const hook of ['preinstall', 'install', 'postinstall']) expect(pkg.scripts?.[hook]).toBeUndefined();
    expect(pkg.dependencies ?? {}).toEqual({});
  });

  test('npx vit22b info --json works from the prebuilt binaries', () => {
    const r = sh(npm, ['exec', '--offline', '--', 'vit22b', 'info', '--json'], app);
    const info = JSON.parse(r.stdout) as {
      package: { version: string };
      addon: { loaded: { path: string } };
      selfTest: { ok: boolean };
    };
    const ours = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
    expect(info.package.version).toBe(ours.version);
    expect(info.addon.loaded.path.startsWith(path.join(app, 'node_modules', 'vit22b', 'prebuilds', 'linux-x64'))).toBe(true);
    expect(info.selfTest.ok).toBe(true);
  });

  test('the library loads with require() and with import', () => {
    const script = (load: string): string =>
      `${load}
       const d = openDevice({ device: 'cpu' });
       const x = d.tensor('f32', [3], new Float32Array([1, 2, 3]));
       const y = d.tensor('f32', [3], new Float32Array([4, 5, 6]));
       d.axpby(2, x, -1, y);
       console.log(JSON.stringify(Array.from(y.download())));`;
    const cjs = sh(process.execPath, ['-e', script("const { openDevice } = require('vit22b');")], app);
    const esm = sh(process.execPath, ['--input-type=module', '-e', script("import { openDevice } from 'vit22b';")], app);
    // 2*[1,2,3] - [4,5,6], exact in f32.
    expect(JSON.parse(cjs.stdout)).toEqual([-2, -1, 0]);
    expect(JSON.parse(esm.stdout)).toEqual([-2, -1, 0]);
  });
});
