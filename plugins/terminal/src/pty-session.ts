import { closeSync, constants, openSync } from 'node:fs';
import { type IPty, spawn } from 'node-pty';

export interface PtyOptions {
  /** Run this command line instead of an interactive shell. */
  command?: string;
  cols: number;
  rows: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export interface PtyExit {
  /** Exit code; null when a signal ended the program. */
  code: number | null;
  signal: number | null;
}

/** The program a share runs: the user's shell ($SHELL, else bash; pwsh.exe on Windows), or `shell -c command`. */
export function shellCommand(command?: string, platform = process.platform, env = process.env) {
  if (platform === 'win32') {
    return { file: 'pwsh.exe', args: command === undefined ? [] : ['-NoLogo', '-Command', command] };
  }
  const shell = env.SHELL || 'bash';
  return { file: shell, args: command === undefined ? [] : ['-c', command] };
}

/** One program in a pseudo-terminal: raw output bytes out, input bytes in, resizable, pausable. */
export class PtySession {
  readonly file: string;
  readonly args: string[];
  private readonly pty: IPty;
  private size: { cols: number; rows: number };
  readonly exited: Promise<PtyExit>;

  constructor(opts: PtyOptions) {
    const { file, args } = shellCommand(opts.command);
    this.file = file;
    this.args = args;
    this.size = { cols: opts.cols, rows: opts.rows };
    this.pty = spawn(file, args, {
      name: 'xterm-256color',
      cols: opts.cols,
      rows: opts.rows,
      cwd: opts.cwd ?? process.cwd(),
      env: { ...(opts.env ?? process.env), TERM: 'xterm-256color' },
      // Bytes, not strings: output is forwarded as is and may split UTF-8 sequences.
      encoding: null,
    });
    const slave = holdSlave(this.pty);
    this.exited = new Promise((resolve) =>
      this.pty.onExit(({ exitCode, signal }) => {
        if (slave !== undefined) closeSync(slave);
        // node-pty reports signal 0 and the code for a normal exit.
        resolve(signal ? { code: null, signal } : { code: exitCode, signal: null });
      }),
    );
  }

  get pid(): number {
    return this.pty.pid;
  }

  get cols(): number {
    return this.size.cols;
  }

  get rows(): number {
    return this.size.rows;
  }

  onData(listener: (chunk: Buffer) => void): void {
    // With `encoding: null` node-pty hands out Buffers although its typings say string.
    this.pty.onData((data) => listener(data as unknown as Buffer));
  }

  write(data: Buffer | string): void {
    this.pty.write(data);
  }

  /** Resizes the PTY; returns false when the size did not change. */
  resize(cols: number, rows: number): boolean {
    if (cols === this.size.cols && rows === this.size.rows) return false;
    this.size = { cols, rows };
    this.pty.resize(cols, rows);
    return true;
  }

  /** Stops reading output: the program blocks once the kernel buffer is full. */
  pause(): void {
    this.pty.pause();
  }

  resume(): void {
    this.pty.resume();
  }

  kill(signal = 'SIGHUP'): void {
    try {
      this.pty.kill(signal);
    } catch {
      // Already gone.
    }
  }
}

/**
 * Opens the PTY's slave side in this process until the program exits. Without it, Linux may
 * answer the master's reads with EIO as soon as the program exits, discarding its last output
 * still in the buffer (seen under load: a few KB lost at the end); with it, node-pty reads
 * everything and ends 200 ms after the exit. Unix only; node-pty keeps the slave's path in `_pty`.
 */
function holdSlave(pty: IPty): number | undefined {
  const path = (pty as unknown as { _pty?: unknown })._pty;
  if (process.platform === 'win32' || typeof path !== 'string' || !path.startsWith('/dev/')) return undefined;
  try {
    return openSync(path, constants.O_RDWR | constants.O_NOCTTY);
  } catch {
    return undefined;
  }
}
