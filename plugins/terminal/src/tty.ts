/**
 * Sequences that undo what a shared program may have switched on in the viewer's terminal:
 * alternate screen, hidden cursor, mouse reporting, bracketed paste, application keypad, colours.
 */
export const TERMINAL_RESET =
  '\x1b[?1049l\x1b[?25h\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?2004l\x1b[?1l\x1b>\x1b[0m';

export interface RawModeOptions {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  /** Written to stdout on restore (e.g. TERMINAL_RESET for a viewer). */
  resetSequence?: string;
  /** Called once on SIGTERM/SIGHUP/SIGINT after the terminal is restored, to shut down cleanly. */
  onSignal?: (signal: NodeJS.Signals) => void;
}

export interface RawMode {
  /** Restores the terminal; safe to call any number of times. */
  restore(): void;
}

const SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGINT'];

/**
 * Puts a TTY in raw mode and guarantees it is restored on every way out: a normal return,
 * process 'exit', an uncaught exception or unhandled rejection, and termination signals.
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
      if (opts.resetSequence) stdout.write(opts.resetSequence);
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
