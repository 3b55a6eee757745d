/**
 * Undoes what a shared program may have switched on in a terminal that showed it, then puts the
 * cursor on a fresh line below everything on screen (the program may have left it anywhere).
 */
export const TERMINAL_RESET = [
  // Leaves the alternate screen; the cursor goes back to where it was saved on entry.
  '\x1b[?1049l',
  // Mouse reporting (clicks, drags, any motion), its UTF-8/SGR/urxvt encodings, focus events.
  '\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1005l\x1b[?1006l\x1b[?1015l\x1b[?1004l',
  // Bracketed paste; normal cursor keys and keypad.
  '\x1b[?2004l\x1b[?1l\x1b>',
  // Origin mode off, autowrap on, insert mode off.
  '\x1b[?6l\x1b[?7h\x1b[4l',
  // ASCII in G0 and shifted in (no line-drawing characters); default colours and attributes.
  '\x1b(B\x0f\x1b[0m',
  // A visible cursor of the default shape.
  '\x1b[?25h\x1b[0 q',
  // The whole screen scrolls again; then column 1 of the bottom row, and a newline for a line of our own.
  '\x1b[r\x1b[999;1H\n',
].join('');

export interface RawModeOptions {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  /** Called once on SIGTERM/SIGHUP/SIGINT after the terminal is restored, to shut down cleanly. */
  onSignal?: (signal: NodeJS.Signals) => void;
}

export interface RawMode {
  /** Raw mode off and TERMINAL_RESET written; safe to call any number of times. */
  restore(): void;
}

const SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGINT'];

/**
 * Puts a TTY in raw mode and guarantees it is restored (TERMINAL_RESET included) on every way out:
 * a normal return, process 'exit', an uncaught exception or unhandled rejection, and termination
 * signals.
 * (SIGKILL cannot be caught; `stty sane` or `reset` fixes the terminal then.)
 */
export function enterRawMode(opts: RawModeOptions): RawMode {
  const { stdin, stdout } = opts;
  let active = true;
  const restore = (): void => {
    if (!active) return;
    active = false;
    process.off('exit', restore);
    process.off('uncaughtException', onCrash);
    process.off('unhandledRejection', onCrash);
    for (const signal of SIGNALS) process.off(signal, onSignal);
    try {
      stdout.write(TERMINAL_RESET);
      stdin.setRawMode(false);
    } catch {
      // The terminal is gone (hang-up): nothing left to restore.
    }
  };
  const onCrash = (error: unknown): void => {
    restore();
    process.stderr.write(
      `mesh-agent: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    restore();
    if (opts.onSignal) opts.onSignal(signal);
    else process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGHUP' ? 1 : 15));
  };
  process.on('exit', restore);
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  for (const signal of SIGNALS) process.on(signal, onSignal);
  stdin.setRawMode(true);
  stdin.resume();
  return { restore };
}
