// Start-up of the commands that run no host (`--help`, `identity`, `config`, `status` against a
// running daemon) next to a bare oclif CLI's `--help`: the floor any oclif CLI pays on this machine.
// Runs are interleaved round by round, so load that comes and goes hits every command alike.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { start, waitFor } from '../lib/proc.js';
import { type BenchRow, hasFlag, report } from '../lib/report.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 21);
const BIN = resolve(import.meta.dirname, '../../bin/run.js');
const REFERENCE = 'bare-oclif';

/** An oclif CLI with one command and no plugins, using the same @oclif/core as mesh-agent. */
function bareOclif(dir: string): string {
  const root = join(dir, 'bare-oclif');
  mkdirSync(join(root, 'commands'), { recursive: true });
  mkdirSync(join(root, 'node_modules', '@oclif'), { recursive: true });
  const core = dirname(createRequire(BIN).resolve('@oclif/core/package.json'));
  symlinkSync(core, join(root, 'node_modules', '@oclif', 'core'), 'dir');
  writeFileSync(
    join(root, 'package.json'),
    JSON.stringify({
      name: 'bare',
      version: '1.0.0',
      type: 'module',
      oclif: { bin: 'bare', commands: './commands' },
    }),
  );
  writeFileSync(
    join(root, 'commands', 'hello.js'),
    "import { Command } from '@oclif/core';\nexport default class Hello extends Command { async run() { this.log('hello'); } }\n",
  );
  writeFileSync(
    join(root, 'run.js'),
    "import { execute } from '@oclif/core';\nawait execute({ dir: import.meta.url });\n",
  );
  return join(root, 'run.js');
}

function timeMs(args: string[], env: NodeJS.ProcessEnv): number {
  const begin = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { stdio: 'ignore', env });
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} exited ${result.status}`);
  return Number(process.hrtime.bigint() - begin) / 1e6;
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

const dir = mkdtempSync(join(tmpdir(), 'bench-cli-startup-'));
const env = { ...process.env, MESH_AGENT_HOME: join(dir, 'home'), XDG_CONFIG_HOME: join(dir, 'config') };
// `status` asks a running daemon; a direct-mode one needs no signaling server.
const daemon = start(process.execPath, [BIN, 'run', '--listen', '127.0.0.1:0'], { env, cwd: dir });
try {
  await waitFor(daemon, (out) => out.includes('running'));
  const commands: Record<string, string[]> = {
    [REFERENCE]: [bareOclif(dir), '--help'],
    '--help': [BIN, '--help'],
    identity: [BIN, 'identity'],
    config: [BIN, 'config'],
    status: [BIN, 'status'],
  };
  const times = new Map(Object.keys(commands).map((name) => [name, [] as number[]]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, args] of Object.entries(commands)) times.get(name)?.push(timeMs(args, env));
  }
  const reference = median(times.get(REFERENCE) ?? []);
  const rows: BenchRow[] = [];
  for (const [name, values] of times) {
    if (name === REFERENCE) continue;
    rows.push({ case: name, tool: 'mesh-agent', metric: 'p50', value: median(values), unit: 'ms' });
    // The same reference figure for every case, so each row gets its ratio to it.
    rows.push({ case: name, tool: REFERENCE, metric: 'p50', value: reference, unit: 'ms' });
  }
  report(rows, {
    json: hasFlag('--json'),
    reference: REFERENCE,
    title: `start-up, median of ${ROUNDS} interleaved rounds; ${REFERENCE}: an oclif CLI with one command, --help`,
  });
} finally {
  daemon.child.kill('SIGTERM');
  await daemon.exited;
  rmSync(dir, { recursive: true, force: true });
}
