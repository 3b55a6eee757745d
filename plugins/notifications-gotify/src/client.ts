import { GotifyConnectionError, GotifyError, GotifyHttpError, GotifyTimeoutError } from './errors.js';

/** Body of `POST /message` (the contract's `CreateMessage`). */
export interface CreateMessage {
  message: string;
  title?: string;
  priority?: number;
  extras?: Record<string, unknown>;
}

/** The server's answer (the contract's `Message`). */
export interface GotifyMessage {
  id: number;
  appid: number;
  message: string;
  date: string;
  title?: string;
  priority?: number;
  extras?: Record<string, unknown>;
}

export interface PostOptions {
  /** Base URL of the server; a path prefix (a reverse proxy's `/gotify/`) is kept. */
  url: string;
  /** Application token, sent in the `X-Gotify-Key` header (never in the URL, where logs would keep it). */
  token: string;
  timeoutMs: number;
  /** Aborts the request early (shutdown). */
  signal?: AbortSignal;
}

/** `<base>/message`, or GotifyError('invalid-url') for anything but an http(s) URL. */
export function messageEndpoint(base: string): URL {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new GotifyError('invalid-url', `invalid Gotify URL "${base}": not a URL`, false);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new GotifyError(
      'invalid-url',
      `invalid Gotify URL "${base}": must start with http:// or https://`,
      false,
    );
  }
  if (url.username || url.password) {
    throw new GotifyError(
      'invalid-url',
      'invalid Gotify URL: it must not contain a user name or password',
      false,
    );
  }
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/message`;
  url.search = '';
  url.hash = '';
  return url;
}

/** The endpoint as it may appear in logs and messages: no credentials, no query. */
export function printable(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/** One `POST /message` as the contract describes it; every failure is a typed GotifyError. */
export async function postMessage(message: CreateMessage, opts: PostOptions): Promise<GotifyMessage> {
  const endpoint = messageEndpoint(opts.url);
  const where = printable(endpoint);
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;
  try {
    const response = await fetch(endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        'x-gotify-key': opts.token,
      },
      body: JSON.stringify(message),
      signal,
      // A redirected POST would turn into a GET elsewhere: report where the server points instead.
      redirect: 'manual',
    });
    const text = await response.text();
    if (response.status >= 300 && response.status < 400) {
      const location = response.headers.get('location') ?? 'an unknown location';
      throw new GotifyHttpError(
        'rejected',
        `Gotify answered ${response.status}: ${where} redirects to ${location}; configure that URL instead`,
        response.status,
        undefined,
      );
    }
    if (!response.ok) throw httpError(response.status, response.statusText, text, where);
    return parseMessage(text, where);
  } catch (error) {
    if (error instanceof GotifyError) throw error;
    throw transportError(error, opts.timeoutMs, where, timeout.aborted);
  }
}

function parseMessage(text: string, where: string): GotifyMessage {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const m = body as Partial<GotifyMessage> | undefined;
  if (!m || typeof m !== 'object' || !Number.isInteger(m.id) || !Number.isInteger(m.appid)) {
    throw new GotifyError(
      'bad-response',
      `${where} answered 200 but not with a Gotify message (is the URL a Gotify server?)`,
      false,
    );
  }
  return m as GotifyMessage;
}

/** The contract's `Error` body: `{ error, errorCode, errorDescription }`; anything else is ignored. */
function errorDescription(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as { errorDescription?: unknown; error?: unknown };
    if (typeof body.errorDescription === 'string' && body.errorDescription) return body.errorDescription;
    if (typeof body.error === 'string' && body.error) return body.error;
  } catch {
    // Not JSON (a proxy's HTML page): the status says enough.
  }
  return undefined;
}

function httpError(status: number, statusText: string, text: string, where: string): GotifyHttpError {
  const description = errorDescription(text);
  const server = description ? ` (server: ${description})` : '';
  const head = `Gotify answered ${status}${statusText ? ` ${statusText}` : ''}`;
  if (status === 401)
    return new GotifyHttpError(
      'unauthorized',
      `${head}: the Gotify application token is wrong${server}`,
      status,
      description,
    );
  if (status === 403)
    return new GotifyHttpError(
      'forbidden',
      `${head}: the token may not post messages (use an application token)${server}`,
      status,
      description,
    );
  if (status === 400 || status === 413 || status === 422)
    return new GotifyHttpError(
      'bad-request',
      `${head}: the server rejected the message: ${description ?? 'no reason given'}`,
      status,
      description,
    );
  if (status === 429)
    return new GotifyHttpError('rate-limited', `${head}: too many requests${server}`, status, description);
  if (status >= 500)
    return new GotifyHttpError('server', `${head}: server error at ${where}${server}`, status, description);
  return new GotifyHttpError(
    'rejected',
    `${head} for POST ${where}${status === 404 ? ': is the URL the base of a Gotify server?' : ''}${server}`,
    status,
    description,
  );
}

const CONNECTION_CAUSES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_SOCKET: 'connection closed by the server',
};

function transportError(error: unknown, timeoutMs: number, where: string, timedOut: boolean): GotifyError {
  const err = error as Error;
  if (timedOut || err.name === 'TimeoutError') return new GotifyTimeoutError(timeoutMs, where);
  if (err.name === 'AbortError') return new GotifyError('aborted', `request to ${where} aborted`, false);
  const cause = rootCause(err);
  // fetch refuses ports browsers block (1, 9, 6000 …) before any connection.
  if (cause?.message === 'bad port')
    return new GotifyError('invalid-url', `invalid Gotify URL ${where}: fetch refuses this port`, false);
  const code = cause?.code;
  const reason = (code && CONNECTION_CAUSES[code]) ?? cause?.message ?? err.message;
  return new GotifyConnectionError(code, `cannot reach Gotify at ${where}: ${reason}`);
}

/** undici wraps socket errors as `TypeError('fetch failed', { cause })`, sometimes an AggregateError. */
function rootCause(error: Error): (Error & { code?: string }) | undefined {
  let cause = (error as { cause?: unknown }).cause as
    | (Error & { code?: string; errors?: Error[] })
    | undefined;
  if (cause && !cause.code && Array.isArray(cause.errors) && cause.errors[0]) cause = cause.errors[0];
  return cause;
}
