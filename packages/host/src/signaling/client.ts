import { EventEmitter } from 'node:events';
import WebSocket, { type RawData } from 'ws';
import { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF } from './backoff.js';
import {
  type AgentToServerEvents,
  type ChallengeData,
  CLOSE_CODES,
  createEnvelope,
  type Envelope,
  type ErrorData,
  EventRegistry,
  type HelloData,
  type Member,
  REFUSAL_CODES,
  type RelayOutData,
  SILENT_LOGGER,
  type SignalingLogger,
  type WelcomeData,
} from './protocol.js';

import { RoomRosters } from './rosters.js';
import { checkUrl, signalingUrls } from './urls.js';

export { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF } from './backoff.js';

export type SignalingState = 'connecting' | 'connected' | 'reconnecting' | 'stopped';

export interface SignalingClientOptions {
  /**
   * `ws://host:port` of the signal server, or several nodes of one cluster: after a disconnect
   * the client tries the next one (round robin) and announces itself there.
   */
  url: string | readonly string[];
  /**
   * Called on every (re)connect with the server's challenge, so the hello carries fresh
   * addresses and capabilities and a proof of key possession for this connection's nonce.
   */
  hello: (challenge: ChallengeData) => HelloData;
  log?: SignalingLogger;
  backoff?: Partial<BackoffOptions> & {
    /** A connection that lasts this long resets the backoff. Default 10 s. */
    stableMs?: number;
  };
  heartbeat?: {
    /** How often to ping the server. Default 15 s. */
    intervalMs?: number;
    /** Silence after which the connection counts as dead. Default 35 s. */
    timeoutMs?: number;
  };
  /** Where plugin schemas live; a registry with the core catalogue only when omitted. */
  registry?: EventRegistry;
  /** How long the server may take to answer the hello. Default 10 s. */
  welcomeTimeoutMs?: number;
  /** Largest inbound message. Default 4 MiB (member lists can be long). */
  maxMessageBytes?: number;
}

export type SignalingClientErrorCode =
  | 'not_connected'
  | 'invalid_event'
  | 'timeout'
  /** `whenConnected` gave up: no welcome from any server in time. */
  | 'connect_timeout'
  | 'disconnected'
  | 'stopped'
  | 'rejected'
  /** Nothing listens at the server's address. */
  | 'refused'
  /** The server's host name does not resolve. */
  | 'unknown_host';

export class SignalingClientError extends Error {
  override readonly name = 'SignalingClientError';
  constructor(
    readonly code: SignalingClientErrorCode,
    message: string,
    /** The server the failure is about, when it is about one. */
    readonly url?: string,
  ) {
    super(message);
  }
}

/** Socket errors that say nobody can be reached at the address: retrying at once will not help. */
const UNREACHABLE: Readonly<Record<string, 'refused' | 'unknown_host'>> = {
  ECONNREFUSED: 'refused',
  ENOTFOUND: 'unknown_host',
  EAI_AGAIN: 'unknown_host',
};

export type EnvelopeHandler = (envelope: Envelope) => void;

export type SignalingClientEvents = {
  state: [state: SignalingState, previous: SignalingState];
  /** Every valid inbound event, after its request (if any) has been resolved. */
  event: [envelope: Envelope];
  welcome: [welcome: WelcomeData];
  /** A room's member list changed (a whole list or a delta arrived); `members` is the list now. */
  members: [room: string, members: Member[]];
  /** The server refused the agent (authentication) or the hello was malformed: the client stopped. */
  rejected: [error: ErrorData];
  /**
   * Every server was tried and none could be reached (connection refused, unknown host). The client
   * keeps retrying; `whenConnected` gives up at once instead of waiting out its timeout.
   */
  unreachable: [error: SignalingClientError, attempt: number];
};

/** Data `send` accepts: the core catalogue's types, or a plugin event addressed `to` an agent. */
export type OutboundData<K extends string> = K extends keyof AgentToServerEvents
  ? AgentToServerEvents[K]
  : RelayOutData;

interface PendingRequest {
  resolve: (envelope: Envelope) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * The agent's side of the control plane: one WebSocket to the signal server, kept alive with
 * pings and re-established with jittered exponential backoff. Every inbound event is checked
 * against the registry before any handler sees it.
 */
export class SignalingClient extends EventEmitter<SignalingClientEvents> {
  readonly registry: EventRegistry;
  readonly #urls: readonly string[];
  #urlIndex = 0;
  readonly #hello: (challenge: ChallengeData) => HelloData;
  readonly #log: SignalingLogger;
  readonly #backoff: BackoffOptions;
  readonly #stableMs: number;
  readonly #heartbeatIntervalMs: number;
  readonly #heartbeatTimeoutMs: number;
  readonly #welcomeTimeoutMs: number;
  readonly #maxMessageBytes: number;

  #state: SignalingState = 'stopped';
  #ws: WebSocket | undefined;
  #welcome: WelcomeData | undefined;
  /** Whether this connection's hello went out (one per connection, answering the challenge). */
  #helloSent = false;
  #everConnected = false;
  #attempt = 0;
  #lastInboundAt = 0;
  #lastError: ErrorData | undefined;
  /** The current socket's error (connect failures come as an error, then a close). */
  #socketError: NodeJS.ErrnoException | undefined;
  /** Connection attempts in a row that found nobody at the address. */
  #unreachableInARow = 0;
  /** Connection attempts since construction: the current one's number. */
  #attempts = 0;
  /** Callers waiting in whenConnected or whenRefused: each reports a refusal to its user. */
  #reporters = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #welcomeTimer: NodeJS.Timeout | undefined;
  #stableTimer: NodeJS.Timeout | undefined;
  readonly #pending = new Map<string, PendingRequest>();
  readonly #handlers = new Set<EnvelopeHandler>();
  readonly #routes = new Set<{ prefix: string; handler: EnvelopeHandler }>();
  readonly #rosters = new RoomRosters();

  constructor(options: SignalingClientOptions) {
    super();
    this.#urls = signalingUrls(options.url).map(checkUrl);
    if (this.#urls.length === 0) throw new TypeError('no signaling URL given');
    this.#hello = options.hello;
    this.#log = options.log ?? SILENT_LOGGER;
    this.registry = options.registry ?? new EventRegistry();
    this.#backoff = {
      initialMs: options.backoff?.initialMs ?? DEFAULT_BACKOFF.initialMs,
      maxMs: options.backoff?.maxMs ?? DEFAULT_BACKOFF.maxMs,
    };
    this.#stableMs = options.backoff?.stableMs ?? 10_000;
    this.#heartbeatIntervalMs = options.heartbeat?.intervalMs ?? 15_000;
    this.#heartbeatTimeoutMs = options.heartbeat?.timeoutMs ?? 35_000;
    this.#welcomeTimeoutMs = options.welcomeTimeoutMs ?? 10_000;
    this.#maxMessageBytes = options.maxMessageBytes ?? 4 * 1024 * 1024;
  }

  /** The server this client is connected (or connecting) to. */
  get url(): string {
    return this.#urls[this.#urlIndex]!;
  }

  get state(): SignalingState {
    return this.#state;
  }

  /** The room's members as this client knows them (whole lists and deltas from the server). */
  members(room: string): Member[] {
    return this.#rosters.members(room);
  }

  /** The server's welcome of the current connection, while connected. */
  get welcome(): WelcomeData | undefined {
    return this.#welcome;
  }

  /** Connects, and keeps reconnecting until `stop()` or a rejection. */
  start(): void {
    if (this.#state !== 'stopped') return;
    this.#everConnected = false;
    this.#attempt = 0;
    this.#connect();
  }

  /** Closes the connection cleanly; no reconnect follows. Pending requests fail with `stopped`. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#setState('stopped');
    this.#clearTimers();
    this.#failPending('stopped', 'signaling client stopped');
    const ws = this.#ws;
    this.#ws = undefined;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => ws.terminate(), 2_000);
      ws.once('close', () => {
        clearTimeout(force);
        resolve();
      });
      ws.close(CLOSE_CODES.normal, 'client stopping');
    });
  }

  /** Sends an event and returns its id. Throws `not_connected` before the welcome, `invalid_event` on bad data. */
  send<K extends string>(type: K, data: OutboundData<K>): string {
    const ws = this.#ws;
    if (this.#state !== 'connected' || !ws || ws.readyState !== WebSocket.OPEN) {
      throw new SignalingClientError('not_connected', `cannot send ${type}: signaling is ${this.#state}`);
    }
    const envelope = createEnvelope(type, data as unknown as Record<string, unknown>);
    const checked = this.registry.validate(envelope, 'to_server');
    if (!checked.ok) throw new SignalingClientError('invalid_event', checked.error.message);
    ws.send(JSON.stringify(envelope));
    return envelope.id;
  }

  /**
   * Sends an event and resolves with the first inbound event that answers it, i.e. whose
   * `data.request_id` or `data.ref_id` is the sent id (a `system.error` answer resolves too).
   */
  request<K extends string>(
    type: K,
    data: OutboundData<K>,
    options: { timeoutMs?: number } = {},
  ): Promise<Envelope> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    let id: string;
    try {
      id = this.send(type, data);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<Envelope>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new SignalingClientError('timeout', `no answer to ${type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
    });
  }

  /** Every valid inbound event. Returns a function that removes the handler. */
  onEvent(handler: EnvelopeHandler): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  /**
   * Events whose type is `prefix` or starts with `prefix.` (`'term'`, `'term.'` and `'term.*'`
   * all mean the `term` plane; `'p2p.session'` means that one type). Returns an unsubscribe function.
   */
  route(prefix: string, handler: EnvelopeHandler): () => void {
    const entry = { prefix: prefix.replace(/\.\*?$/, ''), handler };
    this.#routes.add(entry);
    return () => this.#routes.delete(entry);
  }

  /** Resolves with the welcome once connected; rejects on timeout, stop or rejection. */
  whenConnected(timeoutMs = 10_000): Promise<WelcomeData> {
    if (this.#state === 'connected' && this.#welcome) return Promise.resolve(this.#welcome);
    if (this.#state === 'stopped') {
      return Promise.reject(new SignalingClientError('stopped', 'signaling client is not started'));
    }
    // Only attempts that start while waiting count: one in flight may have begun before a server came up.
    const waitingSince = this.#attempts;
    this.#reporters += 1;
    return new Promise<WelcomeData>((resolve, reject) => {
      const cleanup = () => {
        this.#reporters -= 1;
        clearTimeout(timer);
        this.off('welcome', onWelcome);
        this.off('state', onState);
        this.off('unreachable', onUnreachable);
      };
      const onWelcome = (welcome: WelcomeData) => {
        cleanup();
        resolve(welcome);
      };
      const onState = (state: SignalingState) => {
        if (state !== 'stopped') return;
        cleanup();
        const code = this.#lastError ? 'rejected' : 'stopped';
        reject(
          new SignalingClientError(code, this.#lastError?.message ?? 'signaling client stopped', this.url),
        );
      };
      const onUnreachable = (error: SignalingClientError, attempt: number) => {
        if (attempt <= waitingSince) return;
        cleanup();
        reject(error);
      };
      const timer = setTimeout(() => {
        cleanup();
        const last = this.#socketError ? ` (last attempt: ${this.#socketError.message})` : '';
        const within = `${Math.round(timeoutMs / 100) / 10} s`;
        reject(
          new SignalingClientError(
            'connect_timeout',
            `no answer from the signaling server at ${this.url} within ${within}${last}`,
            this.url,
          ),
        );
      }, timeoutMs);
      this.on('welcome', onWelcome);
      this.on('state', onState);
      this.on('unreachable', onUnreachable);
    });
  }

  /**
   * Resolves with the server's refusal if it refuses the agent (the client then stops for good).
   * The caller tells its user why, so the client does not log it as well.
   */
  whenRefused(): Promise<ErrorData> {
    this.#reporters += 1;
    return new Promise((resolve) => {
      this.once('rejected', (error) => {
        this.#reporters -= 1;
        resolve(error);
      });
    });
  }

  #connect(): void {
    this.#setState(this.#everConnected ? 'reconnecting' : 'connecting');
    this.#lastError = undefined;
    this.#socketError = undefined;
    this.#attempts += 1;
    const ws = new WebSocket(this.url, { maxPayload: this.#maxMessageBytes, handshakeTimeout: 10_000 });
    this.#ws = ws;
    ws.on('open', () => this.#onOpen(ws));
    ws.on('message', (raw, isBinary) => this.#onMessage(ws, raw, isBinary));
    ws.on('ping', () => this.#markAlive());
    ws.on('pong', () => this.#markAlive());
    ws.on('error', (error) => {
      if (ws === this.#ws) this.#socketError = error;
      this.#log.debug({ err: error.message, url: this.url }, 'signaling socket error');
    });
    ws.on('close', (code, reason) => this.#onClose(ws, code, reason.toString()));
  }

  #onOpen(ws: WebSocket): void {
    if (ws !== this.#ws) return;
    this.#markAlive();
    this.#unreachableInARow = 0;
    this.#helloSent = false;
    // The hello answers the server's challenge; this timer covers both the challenge and the welcome.
    this.#welcomeTimer = setTimeout(() => {
      this.#log.warn({ url: this.url }, 'no system.welcome in time; reconnecting');
      ws.terminate();
    }, this.#welcomeTimeoutMs);
    this.#heartbeatTimer = setInterval(() => this.#heartbeat(ws), this.#heartbeatIntervalMs);
  }

  #sendHello(ws: WebSocket, challenge: ChallengeData): void {
    if (this.#helloSent) return;
    this.#helloSent = true;
    let hello: HelloData;
    try {
      hello = this.#hello(challenge);
    } catch (error) {
      this.#reject(ws, {
        code: 'invalid_event',
        message: `building system.hello failed: ${(error as Error).message}`,
      });
      return;
    }
    const envelope = createEnvelope('system.hello', hello);
    const checked = this.registry.validate(envelope, 'to_server');
    if (!checked.ok) {
      this.#reject(ws, checked.error);
      return;
    }
    ws.send(JSON.stringify(envelope));
    this.#log.debug({ agent_id: hello.agent_id, room: hello.room, url: this.url }, 'sent system.hello');
  }

  #onMessage(ws: WebSocket, raw: RawData, isBinary: boolean): void {
    if (ws !== this.#ws) return;
    this.#markAlive();
    if (isBinary) {
      this.#answerInvalid(ws, {
        code: 'invalid_json',
        message: 'binary frames are not part of the protocol',
      });
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(rawToText(raw));
    } catch (error) {
      this.#answerInvalid(ws, {
        code: 'invalid_json',
        message: `message is not valid JSON: ${(error as Error).message}`,
      });
      return;
    }
    const checked = this.registry.validate(value, 'to_agent');
    if (!checked.ok) {
      this.#log.warn({ code: checked.error.code, ref_id: checked.error.ref_id }, checked.error.message);
      // Never answer an error with an error: two confused peers would ping-pong forever.
      if ((value as { type?: unknown } | null)?.type !== 'system.error')
        this.#answerInvalid(ws, checked.error);
      return;
    }
    const envelope = checked.envelope;
    switch (envelope.type) {
      case 'system.challenge':
        this.#sendHello(ws, envelope.data as unknown as ChallengeData);
        return;
      case 'system.welcome':
        this.#onWelcome(envelope.data as unknown as WelcomeData);
        break;
      case 'system.ping':
        this.#trySend(ws, 'system.pong', { request_id: envelope.id });
        break;
      case 'system.error': {
        const error = envelope.data as unknown as ErrorData;
        this.#lastError = error;
        // An answer to a request reaches its caller, who reports it, and a refusal is reported
        // when the server closes the connection after it: logging it too says it twice.
        const answersRequest = error.ref_id !== undefined && this.#pending.has(error.ref_id);
        this.#log[answersRequest || REFUSAL_CODES.has(error.code) ? 'debug' : 'warn'](
          { code: error.code, ref_id: error.ref_id },
          `signal server: ${error.message}`,
        );
        break;
      }
    }
    const changedRoom = this.#rosters.apply(envelope);
    this.#resolvePending(envelope);
    this.#dispatch(envelope);
    if (changedRoom !== undefined)
      this.#emitSafely('members', changedRoom, this.#rosters.members(changedRoom));
  }

  #onWelcome(welcome: WelcomeData): void {
    clearTimeout(this.#welcomeTimer);
    this.#welcome = welcome;
    this.#everConnected = true;
    this.#setState('connected');
    this.#log.info({ agent_id: welcome.agent_id, url: this.url }, 'signaling connected');
    this.#stableTimer = setTimeout(() => {
      this.#attempt = 0;
    }, this.#stableMs);
    this.#emitSafely('welcome', welcome);
  }

  #onClose(ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.#ws) return;
    this.#ws = undefined;
    this.#welcome = undefined;
    this.#rosters.clear();
    this.#clearTimers();
    this.#failPending('disconnected', `signaling connection closed (${code}${reason ? ` ${reason}` : ''})`);
    if (this.#state === 'stopped') return;
    if (code === CLOSE_CODES.unauthorized) {
      const error = this.#lastError ?? { code: 'unauthorized', message: reason || 'authentication failed' };
      this.#logRefusal(error, `signal server refused the agent: ${error.message}`);
      this.#lastError = error;
      this.#setState('stopped');
      this.#emitSafely('rejected', error);
      return;
    }
    this.#attempt += 1;
    this.#noteUnreachable();
    if (this.#urls.length > 1) {
      this.#urlIndex = (this.#urlIndex + 1) % this.#urls.length;
      this.#log.info({ url: this.url }, 'signaling lost; trying the next server');
    }
    const delay = backoffDelay(this.#attempt, this.#backoff);
    this.#log.debug({ code, attempt: this.#attempt, delay_ms: delay }, 'signaling disconnected; retrying');
    this.#setState(this.#everConnected ? 'reconnecting' : 'connecting');
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#state !== 'stopped') this.#connect();
    }, delay);
  }

  /** Counts attempts that found nobody at the address; once every server failed so, says so. */
  #noteUnreachable(): void {
    const error = this.#socketError;
    const kind = error?.code ? UNREACHABLE[error.code] : undefined;
    if (!error || !kind) {
      this.#unreachableInARow = 0;
      return;
    }
    this.#unreachableInARow += 1;
    if (this.#unreachableInARow < this.#urls.length) return;
    this.#emitSafely('unreachable', new SignalingClientError(kind, error.message, this.url), this.#attempts);
  }

  /** A fault on our side that retrying cannot fix: stop and say why. */
  #reject(ws: WebSocket, error: ErrorData): void {
    this.#logRefusal(error, error.message);
    this.#lastError = error;
    this.#ws = undefined;
    this.#clearTimers();
    this.#setState('stopped');
    ws.close(CLOSE_CODES.normal, 'invalid hello');
    this.#emitSafely('rejected', error);
  }

  /** A refusal is final: logged as an error only when no caller waits to tell its user. */
  #logRefusal(error: ErrorData, message: string): void {
    this.#log[this.#reporters > 0 ? 'debug' : 'error']({ code: error.code, url: this.url }, message);
  }

  #heartbeat(ws: WebSocket): void {
    if (Date.now() - this.#lastInboundAt > this.#heartbeatTimeoutMs) {
      this.#log.warn({ url: this.url }, 'signal server silent; dropping the connection');
      ws.terminate();
      return;
    }
    if (this.#state === 'connected') this.#trySend(ws, 'system.ping', { ts: Date.now() });
  }

  #markAlive(): void {
    this.#lastInboundAt = Date.now();
  }

  #answerInvalid(ws: WebSocket, error: ErrorData): void {
    this.#trySend(ws, 'system.error', error);
  }

  /** Protocol chores (pong, error answers) that must never throw into the socket's handlers. */
  #trySend(ws: WebSocket, type: string, data: object): void {
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.send(JSON.stringify(createEnvelope(type, data)));
  }

  #resolvePending(envelope: Envelope): void {
    const replyTo = envelope.data.request_id ?? envelope.data.ref_id;
    if (typeof replyTo !== 'string') return;
    const pending = this.#pending.get(replyTo);
    if (!pending) return;
    this.#pending.delete(replyTo);
    clearTimeout(pending.timer);
    pending.resolve(envelope);
  }

  #dispatch(envelope: Envelope): void {
    this.#emitSafely('event', envelope);
    for (const handler of this.#handlers) this.#callSafely(handler, envelope);
    for (const { prefix, handler } of this.#routes) {
      if (envelope.type === prefix || envelope.type.startsWith(`${prefix}.`))
        this.#callSafely(handler, envelope);
    }
  }

  #callSafely(handler: EnvelopeHandler, envelope: Envelope): void {
    try {
      handler(envelope);
    } catch (error) {
      this.#log.error(
        { err: (error as Error).message, type: envelope.type },
        'signaling event handler failed',
      );
    }
  }

  #emitSafely<K extends keyof SignalingClientEvents>(event: K, ...args: SignalingClientEvents[K]): void {
    try {
      // The cast is the usual price of forwarding a generic rest tuple to EventEmitter.emit.
      (this.emit as (event: K, ...rest: SignalingClientEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      this.#log.error({ err: (error as Error).message, event }, 'signaling listener failed');
    }
  }

  #failPending(code: SignalingClientErrorCode, message: string): void {
    for (const [id, pending] of this.#pending) {
      clearTimeout(pending.timer);
      pending.reject(new SignalingClientError(code, message));
      this.#pending.delete(id);
    }
  }

  #clearTimers(): void {
    clearTimeout(this.#reconnectTimer);
    clearTimeout(this.#welcomeTimer);
    clearTimeout(this.#stableTimer);
    clearInterval(this.#heartbeatTimer);
    this.#reconnectTimer = undefined;
    this.#welcomeTimer = undefined;
    this.#stableTimer = undefined;
    this.#heartbeatTimer = undefined;
  }

  #setState(state: SignalingState): void {
    const previous = this.#state;
    if (previous === state) return;
    this.#state = state;
    this.#emitSafely('state', state, previous);
  }
}

function rawToText(raw: RawData): string {
  if (Array.isArray(raw)) return Buffer.concat(raw).toString('utf8');
  if (raw instanceof ArrayBuffer) return Buffer.from(raw).toString('utf8');
  return raw.toString('utf8');
}
