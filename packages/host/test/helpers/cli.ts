import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

/** The CLI as users run it. Tests need `pnpm build` first (the test command does it). */
export const BIN = resolve(import.meta.dirname, '../../../../bin/run.js');

/** The command line that starts mesh-agent: the repository's build, or an installed `mesh-agent`. */
export type Cli = readonly [command: string, ...args: string[]];
export const REPO_CLI: Cli = [process.execPath, BIN];

/** oclif wraps long error lines and prefixes them with ›. */
export const unwrap = (stderr: string) => stderr.replace(/\s*›\s*/g, ' ');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Environment for an isolated agent: its own home and oclif data dir, no config search outside it. */
export function agentEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    MESH_AGENT_HOME: home,
    // oclif's data dir for plugins; the host links go beside it, in oclif-data/node_modules.
    MESH_AGENT_DATA_DIR: join(home, 'oclif-data', 'installed'),
    HOME: home,
  };
  for (const key of Object.keys(env))
    if (
      key.startsWith('MESH_AGENT_') &&
      !(key in extra) &&
      !['MESH_AGENT_HOME', 'MESH_AGENT_DATA_DIR'].includes(key)
    )
      delete env[key];
  return { ...env, ...extra };
}

/**
 * A user's machine: its own HOME and XDG folders and nothing else of mesh-agent's, so the agent
 * home is the default $XDG_DATA_HOME/mesh-agent and plugins go where a user's would. Nor what the
 * test runner sets: Vitest's NODE_ENV=test makes oclif treat plugins as being developed, and the
 * npm_* variables of `pnpm test` would configure the npm that `plugins install` runs.
 */
export async function userMachineEnv(dirs: TempDirs) {
  const root = await dirs.make('mesh-user-');
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env))
    if (/^(MESH_AGENT_|XDG_|VITEST|npm_)/i.test(key) || ['NODE_ENV', 'TEST'].includes(key)) delete env[key];
  Object.assign(env, {
    HOME: root,
    XDG_DATA_HOME: join(root, 'data'),
    XDG_CONFIG_HOME: join(root, 'config'),
    XDG_STATE_HOME: join(root, 'state'),
  });
  return {
    env,
    root,
    agentHome: join(root, 'data', 'mesh-agent'),
    plugins: join(root, 'data', 'mesh-agent-plugins'),
  };
}

/**
 * Variables that put colour into piped output. The test runner may set them: CI sets `CI`, which
 * oclif's colour library (ansis) reads as "logs render ANSI" even on a pipe. runCli is a script
 * reading a pipe, so the command decides from the pipe alone.
 */
const FORCED_COLOUR = ['FORCE_COLOR', 'CLICOLOR_FORCE', 'CI'];

function withoutForcedColour(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const piped = { ...env };
  for (const key of FORCED_COLOUR) delete piped[key];
  return piped;
}

/** Runs a command to completion, its output piped. */
export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  opts: { timeoutMs?: number; cwd?: string; cli?: Cli } = {},
): Promise<CliResult> {
  const [command, ...leading] = opts.cli ?? REPO_CLI;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, [...leading, ...args], {
      env: withoutForcedColour(env),
      cwd: opts.cwd ?? env.HOME,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`mesh-agent ${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

export interface TtyResult {
  code: number | null;
  /** What the person at the terminal saw: stdout and stderr, in order, lines ending in \n. */
  output: string;
}

/**
 * Runs a command on a real terminal, as a person would: `script` gives it a pseudo-terminal as
 * stdout and stderr. `stderrTo` redirects stderr to that file instead, as `2>file` in a shell does.
 */
export async function runCliInTty(
  args: string[],
  env: NodeJS.ProcessEnv,
  opts: { timeoutMs?: number; cwd?: string; stderrTo?: string } = {},
): Promise<TtyResult> {
  const line = [...REPO_CLI, ...args].map(shellQuoted).join(' ');
  const redirect = opts.stderrTo ? ` 2>${shellQuoted(opts.stderrTo)}` : '';
  // -e: script exits with the command's exit code; /dev/null: keep no typescript file.
  const script: Cli = ['script', '-qec', `${line}${redirect}`, '/dev/null'];
  const result = await runCli([], env, { ...opts, cli: script });
  return { code: result.code, output: result.stdout.replace(/\r\n/g, '\n') };
}

function shellQuoted(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** A long-running command (server, daemon) whose stdout lines can be awaited. */
export class CliProcess {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  stderr = '';
  private waiters: Array<{ test: (line: string) => boolean; resolve: (line: string) => void }> = [];
  readonly exited: Promise<number | null>;

  constructor(args: string[], env: NodeJS.ProcessEnv, cli: Cli = REPO_CLI) {
    const [command, ...leading] = cli;
    this.child = spawn(command, [...leading, ...args], {
      env: withoutForcedColour(env),
      cwd: env.HOME,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      this.lines.push(line);
      const matched = this.waiters.filter((w) => w.test(line));
      this.waiters = this.waiters.filter((w) => !matched.includes(w));
      for (const w of matched) w.resolve(line);
    });
    this.child.stderr!.on('data', (d) => {
      this.stderr += d;
    });
    this.exited = new Promise((r) => this.child.on('close', (code) => r(code)));
  }

  /** The first stdout line (past or future) matching `test`. */
  waitForLine(test: (line: string) => boolean, timeoutMs = 15_000): Promise<string> {
    const seen = this.lines.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolvePromise, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `no matching line within ${timeoutMs} ms\nstdout: ${this.lines.join('\n')}\nstderr: ${this.stderr}`,
            ),
          ),
        timeoutMs,
      );
      this.waiters.push({
        test,
        resolve: (line) => {
          clearTimeout(timer);
          resolvePromise(line);
        },
      });
    });
  }

  /** The first stdout line that parses as JSON with the given key. */
  async waitForJson<T = Record<string, unknown>>(key: string, timeoutMs?: number): Promise<T> {
    const line = await this.waitForLine((l) => {
      try {
        return key in JSON.parse(l);
      } catch {
        return false;
      }
    }, timeoutMs);
    return JSON.parse(line) as T;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/** Temporary directories removed by `cleanup()`. */
export class TempDirs {
  private dirs: string[] = [];
  async make(prefix = 'mesh-agent-test-'): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }
  async cleanup(): Promise<void> {
    await Promise.all(this.dirs.map((d) => rm(d, { recursive: true, force: true })));
    this.dirs = [];
  }
}

/** Polls `check` until it returns a value, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false>,
  timeoutMs = 10_000,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`);
}
