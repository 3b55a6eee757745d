#!/usr/bin/env node
// Installs the built workspace from packed tarballs into an npm prefix (see lib/install-workspace.mjs).
// Run it after `pnpm build`.
//
//   node scripts/pack-install.mjs [prefix]   # then <prefix>/bin/mesh-agent; no prefix: npm's global one
import { join, resolve } from 'node:path';
import { installWorkspace, run } from './lib/install-workspace.mjs';

const prefix = process.argv[2] && resolve(process.argv[2]);
const installed = installWorkspace(prefix);
console.log(`installed ${installed.join(', ')}`);
console.log(
  `mesh-agent: ${join(prefix ?? run('npm', ['prefix', '--global'], 'pipe').trim(), 'bin', 'mesh-agent')}`,
);
