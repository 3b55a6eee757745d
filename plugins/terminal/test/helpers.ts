import { type ChildProcess, spawn as spawnChild } from 'node:child_process';
import { createInterface } from 'node:readline';
import { type IPty, spawn as spawnPty } from 'node-pty';
import { BIN } from '../../../packages/host/test/helpers/cli.js';

export type JsonLine = Record<string, unknown> & { event?: string };

/** Polls until `check` is truthy. */
export async function until<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  ms = 15_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A CLI process with piped stdin whose stdout is JSON lines (`--json`). */
export class JsonCli {
  readonly child: ChildProcess;
  readonly lines: JsonLine[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;

  constructor(args: string[], env: NodeJS.ProcessEnv) {
    this.child = spawnChild(process.execPath, [BIN, ...args], { env, cwd: env.HOME, stdio: 'pipe' });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      try {
        this.lines.push(JSON.parse(line) as JsonLine);
      } catch {
        this.lines.push({ event: 'text', text: line });
      }
    });
    this.child.stderr!.on('data', (d) => {
      this.stderr += d;
    });
    this.child.stdin!.on('error', () => {});
    this.exited = new Promise((resolve) => this.child.on('close', (code) => resolve(code)));
  }

  type(data: string): void {
    this.child.stdin!.write(data);
  }

  events(name: string): JsonLine[] {
    return this.lines.filter((l) => l.event === name);
  }

  /** Concatenated `output` events. */
  output(): string {
    return this.events('output')
      .map((l) => String(l.data))
      .join('');
  }

  waitFor(test: (line: JsonLine) => boolean, what: string, ms?: number): Promise<JsonLine> {
    return until(
      () => this.lines.find(test),
      `${what}\nstdout: ${JSON.stringify(this.lines)}\nstderr: ${this.stderr}`,
      ms,
    );
  }

  waitForEvent(name: string, ms?: number): Promise<JsonLine> {
    return this.waitFor((l) => l.event === name, `event ${name}`, ms);
  }

  waitForOutput(text: string, ms?: number): Promise<string> {
    return until(
      () => this.output().includes(text) && this.output(),
      `output "${text}" in ${JSON.stringify(this.output())}\nstderr: ${this.stderr}`,
      ms,
    );
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/** A command in a real pseudo-terminal: what a person at a terminal would see and type. */
export class TtyCli {
  readonly pty: IPty;
  screen = '';
  readonly exited: Promise<number>;

  constructor(command: string, env: NodeJS.ProcessEnv, size = { cols: 80, rows: 24 }) {
    this.pty = spawnPty('/bin/sh', ['-c', command], { ...size, cwd: env.HOME, env, name: 'xterm-256color' });
    this.pty.onData((d) => {
      this.screen += d;
    });
    this.exited = new Promise((resolve) => this.pty.onExit(({ exitCode }) => resolve(exitCode)));
  }

  type(data: string): void {
    this.pty.write(data);
  }

  waitFor(text: string | RegExp, ms?: number): Promise<true> {
    const found = () => (typeof text === 'string' ? this.screen.includes(text) : text.test(this.screen));
    return until(() => found() || undefined, `"${text}" on the terminal:\n${this.screen}`, ms);
  }

  kill(): void {
    try {
      this.pty.kill('SIGKILL');
    } catch {
      // gone
    }
  }
}

/** The CLI as a shell command line (for TtyCli). */
export function cliLine(args: string[]): string {
  return [process.execPath, BIN, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
}
