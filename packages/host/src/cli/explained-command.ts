import { Command, Errors } from '@oclif/core';

/**
 * A command whose failures read in words (see explainError): `error: …` and `hint: …` on stderr,
 * or `{"error": {"code", "message", "hint"}}` on stdout with --json. No class names, no stack.
 * MeshCommand builds on it; so do the commands that run no agent (`server`, `relay`).
 */
export abstract class ExplainedCommand extends Command {
  protected override async catch(error: Error): Promise<unknown> {
    // `this.exit()` is how a command ends early on purpose; oclif handles it.
    if (error instanceof Errors.ExitError) throw error;
    // Loaded on failure only: it knows the host's error classes (signaling, QUIC), which a command
    // that runs no host never loads.
    const { errorJson, explainError, formatError } = await import('./explain-error.js');
    const explained = explainError(error, this.id);
    // One line: commands with their own --json print JSON lines, and a script reads this one too.
    if (this.wantsJson()) process.stdout.write(`${JSON.stringify(errorJson(explained))}\n`);
    else process.stderr.write(formatError(explained));
    // Said already: oclif only exits with the code.
    throw new Errors.ExitError(explained.exitCode);
  }

  /** --json was asked for: oclif's flag, or a command's own (share-terminal's JSON lines, server's). */
  private wantsJson(): boolean {
    if (this.jsonEnabled()) return true;
    const end = this.argv.indexOf('--');
    return (end === -1 ? this.argv : this.argv.slice(0, end)).includes('--json');
  }
}
