import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

// The built CLI, as an operator runs it (`pnpm build` first).
const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = join(repoRoot, 'bin', 'run.js');

/** Environment variables that would configure the commands behind a test's back. */
const AMBIENT = ['MESH_RELAY_SECRET', 'MESH_SIGNAL_TOKENS', 'MESH_SIGNAL_REDIS', 'MESH_SIGNAL_DATA_DIR'];

/** `mesh-agent <command> …args` with the parent's environment, minus AMBIENT, plus `env`. */
export function spawnCli(command: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const parentEnv = { ...process.env };
  for (const name of AMBIENT) delete parentEnv[name];
  return spawn(process.execPath, [BIN, command, ...args], {
    cwd: repoRoot,
    env: { ...parentEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export async function firstLine(child: ChildProcess): Promise<string> {
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const [line] = (await once(lines, 'line')) as [string];
  return line;
}

export interface Exited {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Waits for the process to end; what it wrote, from the moment of the call. */
export async function exitOf(child: ChildProcess): Promise<Exited> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => {
    stdout += String(chunk);
  });
  child.stderr?.on('data', (chunk) => {
    stderr += String(chunk);
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}
