// Installs the built workspace the way a user gets it from tarballs: every package packed by pnpm
// (which turns `workspace:*` into the packed version) and all tarballs installed in ONE global npm
// command, so that the packages find each other there and only third-party dependencies come from
// the registry (or npm's cache). Shared by pack-install.mjs and build-deb.mjs.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const rootPackage = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

/** Runs a command in `cwd` (the repository), its stderr shown; throws on a non-zero exit. Returns its stdout when piped. */
export function run(command, args, stdout = 'inherit', cwd = ROOT) {
  const result = spawnSync(command, args, {
    cwd,
    stdio: ['ignore', stdout, 'inherit'],
    encoding: 'utf8',
  });
  if (result.error) throw new Error(`${command}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${result.status})`);
  return result.stdout;
}

/**
 * Packs every workspace package and installs the CLI globally into `prefix` (npm's global prefix
 * when undefined): `<prefix>/bin/mesh-agent`, `<prefix>/lib/node_modules/mesh-agent/...`.
 *
 * One package with one dependency tree: `npm install --global` of every tarball made each its own
 * global package with its own node_modules (seven copies of @oclif/core, several of the host), and
 * classes compared across copies (`instanceof`) failed: exit codes were lost and every error got
 * oclif's `EEXIT` trailer. So the CLI's tarball is installed in a staging directory with its
 * workspace dependencies pointing at their tarballs (`overrides` make the plugins' own dependency
 * on the host the same one), which npm dedupes into one tree; that tree is packed with
 * bundleDependencies and installed globally as one package.
 * Returns what was installed, as `name@version`.
 */
export function installWorkspace(prefix) {
  const packDir = mkdtempSync(join(tmpdir(), 'mesh-agent-pack-'));
  try {
    const packed = JSON.parse(
      run(
        'npx',
        ['-y', rootPackage.packageManager, '-r', 'pack', '--json', '--pack-destination', packDir],
        'pipe',
      ),
    );
    // The CLI package itself is only bin/run.js; every other one must ship its build.
    const unbuilt = packed.filter(
      (p) => p.name !== rootPackage.name && !p.files.some((f) => f.path === 'dist/index.js'),
    );
    if (unbuilt.length > 0)
      throw new Error(`not built: ${unbuilt.map((p) => p.name).join(', ')}; run pnpm build first`);

    const cli = packed.find((p) => p.name === rootPackage.name);
    const workspace = packed.filter((p) => p !== cli);
    const stage = join(packDir, 'stage');
    mkdirSync(stage);
    run('tar', ['-xzf', cli.filename, '-C', stage, '--strip-components=1']);
    const manifestPath = join(stage, 'package.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    const tarballs = Object.fromEntries(workspace.map((p) => [p.name, `file:${p.filename}`]));
    const staged = {
      ...manifest,
      dependencies: { ...manifest.dependencies, ...pick(tarballs, manifest.dependencies) },
    };
    writeFileSync(manifestPath, JSON.stringify({ ...staged, overrides: tarballs }, null, 2));
    // Only the tree is wanted here: the native addons build where the bundle is installed.
    run('npm', ['install', '--omit=dev', '--ignore-scripts', ...QUIET], 'inherit', stage);
    // The bundle names its dependencies by version again: the tarballs are gone once it is installed.
    writeFileSync(manifestPath, JSON.stringify({ ...manifest, bundleDependencies: true }, null, 2));
    const bundle = join(
      packDir,
      run('npm', ['pack', '--pack-destination', packDir], 'pipe', stage).trim().split('\n').at(-1),
    );
    run('npm', ['install', '--global', ...(prefix ? ['--prefix', prefix] : []), ...INSTALL_FLAGS, bundle]);
    return packed.map((p) => `${p.name}@${p.version}`);
  } finally {
    rmSync(packDir, { recursive: true, force: true });
  }
}

const QUIET = ['--prefer-offline', '--no-fund', '--no-audit'];
const INSTALL_FLAGS = [
  ...QUIET,
  // node-pty (terminal plugin) and the UDP batching addon compile at install time; npm 11 asks for consent.
  '--allow-scripts=node-pty,@mesh-agent/udp-batch',
];

/** The entries of `from` whose keys `keys` has. */
function pick(from, keys) {
  return Object.fromEntries(Object.entries(from).filter(([name]) => name in keys));
}
