import { closeSync, constants, openSync, writeSync } from 'node:fs';
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
  /** node-pty's PTY master (Unix) and the stream reading it; undefined on Windows, where node-pty writes. */
  private readonly master: { fd: number; socket: { destroyed?: unknown } } | undefined;
  /** Input the PTY did not take yet (its buffer was full), in order. */
  private readonly input: Buffer[] = [];
  private retry: NodeJS.Timeout | undefined;

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
    const { fd, _socket: socket } = this.pty as unknown as {
      fd?: unknown;
      _socket?: { destroyed?: unknown };
    };
    this.master =
      process.platform !== 'win32' && typeof fd === 'number' && socket?.destroyed === false
        ? { fd, socket }
        : undefined;
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

  /**
   * Writes input at once when the PTY takes it, as keystrokes do: node-pty's own write goes through
   * the thread pool, a round trip that each echo paid for. What the PTY cannot take now waits.
   */
  write(data: Buffer | string): void {
    if (!this.master) {
      this.pty.write(data);
      return;
    }
    let bytes = typeof data === 'string' ? Buffer.from(data) : data;
    if (this.input.length === 0) {
      bytes = bytes.subarray(this.writeNow(bytes));
      if (bytes.length === 0) return;
    }
    // A copy: the caller may reuse its buffer.
    this.input.push(Buffer.from(bytes));
    this.retry ??= setTimeout(this.writeWaiting, 1);
  }

  private readonly writeWaiting = (): void => {
    this.retry = undefined;
    while (this.input.length > 0) {
      const first = this.input[0]!;
      const written = this.writeNow(first);
      if (written < first.length) {
        this.input[0] = first.subarray(written);
        this.retry = setTimeout(this.writeWaiting, 1);
        return;
      }
      this.input.shift();
    }
  };

  /**
   * Bytes the PTY took; 0 when its buffer is full. Input to a program that ended is dropped: once
   * node-pty destroyed its stream the descriptor is closed, and its number may be another file's.
   */
  private writeNow(bytes: Buffer): number {
    const master = this.master!;
    try {
      if (master.socket.destroyed !== false) throw new Error('the program ended');
      return writeSync(master.fd, bytes);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') return 0;
      this.input.length = 0;
      return bytes.length;
    }
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
