import { Errors } from '@oclif/core';
import { PartialFailure } from './errors.js';

/** --json was asked for before any `--`: oclif's flag, or a command's own (share-terminal, server). */
export function asksForJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

/**
 * Says what went wrong in words (see explainError): `error: …` and `hint: …` on stderr, or one
 * line `{"error": {"code", "message", "hint"}}` on stdout with `json` (a PartialFailure's result
 * around it). Returns the ExitError that
 * ends the process with the failure's code, for oclif to handle without printing anything more.
 * `command` is the command's id, for pointing at its help.
 */
export async function reportFailure(
  error: unknown,
  opts: { json: boolean; command?: string | undefined },
): Promise<Errors.ExitError> {
  // `this.exit()` is how a command ends early on purpose, or the failure was reported already.
  if (error instanceof Errors.ExitError) return error;
  // Loaded on failure only: it knows the host's error classes (signaling, QUIC), which a command
  // that runs no host never loads.
  const { errorJson, explainError, formatError } = await import('./explain-error.js');
  const explained = explainError(error, opts.command);
  // One line: commands with their own --json print JSON lines, and a script reads this one too.
  if (opts.json) {
    // A run that did part of its work prints that work too, so a script sees both.
    const done = explained instanceof PartialFailure ? explained.result : {};
    process.stdout.write(`${JSON.stringify({ ...done, ...errorJson(explained) })}\n`);
  } else process.stderr.write(formatError(explained));
  return new Errors.ExitError(explained.exitCode);
}
