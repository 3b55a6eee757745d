#!/usr/bin/env node
// `pnpm bench <name> [--json] [args…]`: runs bench/<name>/index.ts with tsx.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const [name, ...args] = process.argv.slice(2);
const available = readdirSync(here, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(here, d.name, 'index.ts')))
  .map((d) => d.name);
if (!name || !available.includes(name)) {
  console.error(`usage: pnpm bench <name> [--json] [options]\nbenchmarks: ${available.join(', ')}`);
  process.exit(2);
}
const tsx = join(here, '..', 'node_modules', '.bin', 'tsx');
const result = spawnSync(tsx, [join(here, name, 'index.ts'), ...args], { stdio: 'inherit' });
process.exit(result.status ?? 1);
