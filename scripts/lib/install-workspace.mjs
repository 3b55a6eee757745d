// Installs the built workspace the way a user gets it from tarballs: every package packed by pnpm
// (which turns `workspace:*` into the packed version) and all tarballs installed in ONE global npm
// command, so that the packages find each other there and only third-party dependencies come from
// the registry (or npm's cache). Shared by pack-install.mjs and build-deb.mjs.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const rootPackage = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

/** Runs a command in the repository, its stderr shown; throws on a non-zero exit. Returns its stdout when piped. */
export function run(command, args, stdout = 'inherit') {
  const result = spawnSync(command, args, {
    cwd: ROOT,
    stdio: ['ignore', stdout, 'inherit'],
    encoding: 'utf8',
  });
  if (result.error) throw new Error(`${command}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${result.status})`);
  return result.stdout;
}

/**
 * Packs every workspace package and installs the tarballs globally into `prefix` (npm's global
 * prefix when undefined): `<prefix>/bin/mesh-agent`, `<prefix>/lib/node_modules/...`.
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

    run('npm', [
      'install',
      '--global',
      ...(prefix ? ['--prefix', prefix] : []),
      '--prefer-offline',
      // node-pty (terminal plugin) compiles its native addon at install time; npm 11 asks for consent.
      '--allow-scripts=node-pty',
      '--no-fund',
      '--no-audit',
      ...packed.map((p) => p.filename),
    ]);
    return packed.map((p) => `${p.name}@${p.version}`);
  } finally {
    rmSync(packDir, { recursive: true, force: true });
  }
}
