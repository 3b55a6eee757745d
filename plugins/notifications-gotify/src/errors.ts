/**
 * Failure classes of a push. `retryable` ones (the server or the network may recover) are retried
 * with backoff; the others would fail the same way again.
 */
export type GotifyFailure =
  | 'no-url'
  | 'invalid-url'
  | 'no-token'
  | 'unauthorized'
  | 'forbidden'
  | 'bad-request'
  | 'rejected'
  | 'rate-limited'
  | 'server'
  | 'bad-response'
  | 'timeout'
  | 'connection'
  | 'aborted';

export class GotifyError extends Error {
  constructor(
    readonly kind: GotifyFailure,
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'GotifyError';
  }
}

/** The server answered with a non-2xx status (its `Error` body, when it sent one, is kept). */
export class GotifyHttpError extends GotifyError {
  constructor(
    kind: GotifyFailure,
    message: string,
    readonly status: number,
    readonly description: string | undefined,
  ) {
    super(kind, message, kind === 'server' || kind === 'rate-limited');
    this.name = 'GotifyHttpError';
  }
}

export class GotifyTimeoutError extends GotifyError {
  constructor(
    readonly timeoutMs: number,
    where: string,
  ) {
    super('timeout', `Gotify at ${where} did not answer within ${timeoutMs} ms`, true);
    this.name = 'GotifyTimeoutError';
  }
}

/** The server could not be reached: refused, unknown host, reset, TLS failure. */
export class GotifyConnectionError extends GotifyError {
  constructor(
    readonly code: string | undefined,
    message: string,
  ) {
    super('connection', message, true);
    this.name = 'GotifyConnectionError';
  }
}
