#!/usr/bin/env node
// Installs the built workspace the way a user gets it from tarballs: every package packed by pnpm
// (which turns `workspace:*` into the packed version) and all tarballs installed in ONE global npm
// command, so that the packages find each other there and only third-party dependencies come from
// the registry (or npm's cache). Run it after `pnpm build`.
//
//   node scripts/pack-install.mjs [prefix]   # then <prefix>/bin/mesh-agent; no prefix: npm's global one
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const rootPackage = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const prefix = process.argv[2] && resolve(process.argv[2]);

/** Runs a command in the repository, its stderr shown; fails the script on a non-zero exit. */
function run(command, args, stdout = 'inherit') {
  const result = spawnSync(command, args, {
    cwd: ROOT,
    stdio: ['ignore', stdout, 'inherit'],
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${result.status})`);
  return result.stdout;
}

const packDir = mkdtempSync(join(tmpdir(), 'mesh-agent-pack-'));
try {
  const pnpm = ['-y', rootPackage.packageManager];
  const packed = JSON.parse(
    run('npx', [...pnpm, '-r', 'pack', '--json', '--pack-destination', packDir], 'pipe'),
  );
  // The CLI package itself is only bin/run.js; every other one must ship its build.
  const unbuilt = packed.filter(
    (p) => p.name !== rootPackage.name && !p.files.some((f) => f.path === 'dist/index.js'),
  );
  if (unbuilt.length > 0)
    throw new Error(`not built: ${unbuilt.map((p) => p.name).join(', ')}; run pnpm build first`);

  const tarballs = packed.map((p) => p.filename);
  run('npm', [
    'install',
    '--global',
    ...(prefix ? ['--prefix', prefix] : []),
    '--prefer-offline',
    // node-pty (terminal plugin) compiles its native addon at install time; npm 11 asks for consent.
    '--allow-scripts=node-pty',
    '--no-fund',
    '--no-audit',
    ...tarballs,
  ]);
  console.log(`installed ${packed.map((p) => `${p.name}@${p.version}`).join(', ')}`);
  console.log(
    `mesh-agent: ${join(prefix ?? run('npm', ['prefix', '--global'], 'pipe').trim(), 'bin', 'mesh-agent')}`,
  );
} finally {
  rmSync(packDir, { recursive: true, force: true });
}
