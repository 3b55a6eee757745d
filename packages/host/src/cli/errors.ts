import { DEFAULT_SIGNAL_PORT } from '../signaling/constants.js';

/**
 * A failure the user can act on: a stable `code` for scripts (`--json`), a `message` that says what
 * went wrong in words, and a `hint` that says what to do next. MeshCommand.catch prints these.
 */
export class MeshError extends Error {
  override name = 'MeshError';
  constructor(
    readonly code: string,
    message: string,
    readonly hint?: string,
    /** Process exit code: 1 for a failure of the run, 2 for bad input. */
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/**
 * A run that did part of its work: `result` is what a successful run returns, with the failures
 * inside it. With --json it is printed with the summarising `error` on top (one object, so a script
 * sees what worked and what did not); at a terminal the command has said so already and only the
 * error follows. Exit code 1, as for any failure of the run.
 */
export class PartialFailure extends MeshError {
  override name = 'PartialFailure';
  constructor(
    code: string,
    message: string,
    readonly result: Record<string, unknown>,
    hint?: string,
  ) {
    super(code, message, hint, 1);
  }
}

/** Bad input from the user (flags, arguments, files): exit code 2 with the message, no stack. */
export class UsageError extends MeshError {
  override name = 'UsageError';
  constructor(message: string, hint?: string) {
    super('usage', message, hint, 2);
  }
}

/** Where the signaling server is set; every message about the server's address names all three. */
export const SERVER_SETTINGS = '--server, the config key signaling.url or MESH_AGENT_SERVER';

/**
 * A command needs the signaling server (`what` it was about to do) but none is configured;
 * `otherwise` names a way that needs none.
 */
export function missingServer(what: string, otherwise?: string): MeshError {
  return new MeshError(
    'no_server',
    `no signaling server is set, so this agent cannot ${what}`,
    `set one (ws://host:${DEFAULT_SIGNAL_PORT}) with ${SERVER_SETTINGS}${otherwise ? `; ${otherwise}` : ''}` +
      '. To set it once for every command: mesh-agent config set signaling.url ws://…',
    2,
  );
}
