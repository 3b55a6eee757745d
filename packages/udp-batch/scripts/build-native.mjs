#!/usr/bin/env node
// Builds the addon with node-gyp against this machine's Node headers, never downloading any.
// Runs as the package's `install` script: a failure leaves build/unavailable.txt with the reason
// (the wrapper reports it and callers fall back to node:dgram) and still exits 0.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const reasonFile = join(root, 'build', 'unavailable.txt');

function unavailable(reason) {
  mkdirSync(dirname(reasonFile), { recursive: true });
  writeFileSync(reasonFile, `${reason}\n`);
  console.warn(`@mesh-agent/udp-batch: native batching unavailable (${reason}); node:dgram will be used`);
  process.exit(0);
}

/** The configured nodedir, else the prefix of the running node if it ships its headers (/usr for Debian's). */
function nodeDir() {
  const candidates = [process.env.npm_config_nodedir, resolve(dirname(process.execPath), '..')];
  return candidates.find((dir) => dir && existsSync(join(dir, 'include', 'node', 'node_api.h')));
}

if (process.platform !== 'linux') unavailable(`${process.platform} has no sendmmsg/UDP GSO`);
const nodedir = nodeDir();
if (!nodedir) unavailable('no local Node headers (include/node/node_api.h); set npm_config_nodedir');
rmSync(reasonFile, { force: true });
// A failed build must not leave an older addon behind to be loaded.
rmSync(join(root, 'build', 'Release'), { recursive: true, force: true });
// pnpm and npm put their bundled node-gyp on the PATH of lifecycle scripts (`pnpm run build:native`).
const gyp = spawnSync('node-gyp', ['rebuild', `--nodedir=${nodedir}`], { cwd: root, encoding: 'utf8' });
if (gyp.error) unavailable(`node-gyp: ${gyp.error.message}`);
if (gyp.status !== 0) {
  const tail = `${gyp.stdout}${gyp.stderr}`.trim().split('\n').slice(-15).join('\n');
  unavailable(`node-gyp rebuild failed (exit ${gyp.status}):\n${tail}`);
}
