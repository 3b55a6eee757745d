import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import {
  type Candidate,
  type CandidatesData,
  CLOSE_CODES,
  checkDerivedAgentId,
  createEnvelope,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_ROOM,
  type Envelope,
  type ErrorData,
  EventRegistry,
  type HelloData,
  isCorePlane,
  type Member,
  type MembersData,
  type MembersDeltaData,
  type P2pRequestData,
  type P2pSessionData,
  type RoomData,
  SESSION_TTL_DEFAULT_S,
  SESSION_TTL_MAX_S,
  SESSION_TTL_MIN_S,
  SILENT_LOGGER,
  type SignalingLogger,
  verifyHelloProof,
  type WelcomeData,
} from '@mesh-agent/host';
import { RELAY_PATH } from '@mesh-agent/host/nat';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { ANY_ROOM, mayJoin, type RoomGrant, TokenAuthenticator, type TokenEntry } from './auth.js';
import { IdentityBindings } from './bindings.js';
import type { Backplane, RemoteConnection } from './cluster/backplane.js';
import { MemoryBackplane } from './cluster/memory-backplane.js';
import { RedisBackplane } from './cluster/redis-backplane.js';
import { BindingsUnavailableError } from './cluster/redis-bindings.js';
import { prometheusText, type ServerHealth } from './health.js';
import { resolveSignalLimits, type SignalLimits } from './limits.js';
import { listen } from './listen.js';
import { type AgentConnection, type ConnectionInfo, membersOf, newestFirst, Presence } from './presence.js';
import { DEFAULT_RATE_LIMIT, type RateLimitOptions, TokenBucket } from './rate-limit.js';
import { mintRelayGrant } from './relay/grants.js';
import { RelayHub } from './relay/hub.js';
import type { RelayLimits } from './relay/limits.js';
import { pathOf } from './relay/relay-server.js';
import { rateLimitKey, SourceLimiter } from './source-limiter.js';
import { StunResponder } from './stun-responder.js';
import { SERVER_VERSION } from './version.js';

export interface SignalServerOptions {
  /** Interface to listen on. Default `127.0.0.1`. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** Accept every agent without a token. Only ever set from an explicit flag. */
  open?: boolean;
  tokens?: ReadonlyArray<TokenEntry | string>;
  /** Lifetime of minted P2P session tokens, 60–180 s. Default 120. */
  sessionTtlS?: number;
  /** Largest message accepted, in bytes. Default 64 KiB. */
  maxMessageBytes?: number;
  rateLimit?: RateLimitOptions;
  log?: SignalingLogger;
  /** A connection must send `system.hello` within this time. Default 10 s. */
  helloTimeoutMs?: number;
  /** WebSocket ping period; a connection silent for two periods is dropped. Default 30 s. */
  heartbeatIntervalMs?: number;
  /** Rooms one connection may be in at once. Default 16. */
  maxRoomsPerConnection?: number;
  /** Where identity bindings (agent id → certificate) persist; in memory only when omitted. */
  dataDir?: string;
  /** Two UDP ports that answer STUN on the listen host (0: free ones); no STUN when omitted. */
  stunPorts?: readonly [number, number];
  /**
   * The relay for sessions whose agents cannot punch through: with `url`, an external one
   * (`mesh-agent relay`) sharing `secret`; without, the hub runs here on `/relay`.
   */
  relay?: { secret: Buffer; url?: string; limits?: Partial<RelayLimits> };
  /** PEM certificate chain and key: serve `wss://` (signaling and the relay) instead of `ws://`. */
  tls?: { cert: string; key: string };
  /**
   * Share rooms, presence, sessions and identity bindings with other nodes through this Redis
   * (bindings then live there, not in `dataDir`). A single process with no dependency when omitted.
   */
  redis?: { url: string; presenceTtlMs?: number };
  /** Connection, buffer and session-request limits; see `DEFAULT_SIGNAL_LIMITS`. */
  limits?: Partial<SignalLimits>;
}

export interface SignalServerAddress {
  address: string;
  port: number;
  /** `ws://…` URL agents can use (with the listen address as given). */
  url: string;
  /** UDP ports answering STUN, when enabled. */
  stunPorts?: [number, number];
  /** Where the relay listens, when this server runs it. */
  relayUrl?: string;
}

/** Raised by the constructor for options that cannot work. */
export class SignalServerConfigError extends Error {
  override readonly name = 'SignalServerConfigError';
}

/** How long member changes gather before they go out as one delta. */
const DELTA_BATCH_MS = 20;

/** Shortest bearer token accepted: short tokens are guessable. */
export const MIN_TOKEN_LENGTH = 16;

interface Connection extends AgentConnection {
  readonly ws: WebSocket;
  /** The rooms its token lets it join. */
  readonly allowedRooms: RoomGrant;
}

/** Per-socket state before and after authentication. */
interface Socket {
  readonly ws: WebSocket;
  readonly remote: string;
  /** What the per-address connection cap counts it as (`rateLimitKey`). */
  readonly source: string;
  readonly bucket: TokenBucket;
  readonly helloTimer: NodeJS.Timeout;
  /** The one-time challenge this socket's hello must sign. */
  readonly nonce: string;
  /** A hello is being checked; nothing else is handled until it is settled. */
  helloPending: boolean;
  alive: boolean;
  connection?: Connection;
}

/**
 * The reference control plane: authenticates agents, tracks rooms and presence, mints P2P
 * session tokens, and relays plugin events between agents of a room.
 */
export class SignalServer {
  readonly #host: string;
  readonly #port: number;
  readonly #open: boolean;
  readonly #auth: TokenAuthenticator;
  readonly #sessionTtlS: number;
  readonly #maxMessageBytes: number;
  readonly #rateLimit: RateLimitOptions;
  readonly #log: SignalingLogger;
  readonly #helloTimeoutMs: number;
  readonly #heartbeatIntervalMs: number;
  readonly #maxRooms: number;
  readonly #dataDir: string | undefined;
  readonly #redis: SignalServerOptions['redis'];
  #backplane: Backplane | undefined;
  readonly #registry = new EventRegistry();
  readonly #presence = new Presence<Connection>();
  readonly #sockets = new Set<Socket>();
  readonly #limits: SignalLimits;
  /** Open sockets per source, for `maxConnectionsPerAddress`. */
  readonly #perSource = new Map<string, number>();
  /** Session requests per agent id. */
  readonly #sessionRequests: SourceLimiter;
  #wss: WebSocketServer | undefined;
  #http: Server | undefined;
  #stun: StunResponder | undefined;
  #stunPorts: [number, number] | undefined;
  readonly #relayOptions: SignalServerOptions['relay'];
  readonly #tls: SignalServerOptions['tls'];
  #relayHub: RelayHub | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #seq = 0;
  readonly #counters = {
    sessionsBrokered: 0,
    messagesRelayed: 0,
    connectionsRefused: 0,
    slowClientsDropped: 0,
    sessionRequestsLimited: 0,
  };
  /** Member changes per room, waiting to go out as one delta. */
  readonly #deltas = new Map<string, { agents: Set<string>; timer: NodeJS.Timeout }>();

  constructor(options: SignalServerOptions) {
    const tokens = options.tokens ?? [];
    const settings = {
      port: options.port,
      open: options.open === true,
      sessionTtlS: options.sessionTtlS ?? SESSION_TTL_DEFAULT_S,
      maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      rateLimit: options.rateLimit ?? DEFAULT_RATE_LIMIT,
    };
    checkSettings(settings, tokens);
    this.#host = options.host ?? '127.0.0.1';
    this.#port = settings.port;
    this.#open = settings.open;
    this.#sessionTtlS = settings.sessionTtlS;
    this.#maxMessageBytes = settings.maxMessageBytes;
    this.#rateLimit = settings.rateLimit;
    this.#log = options.log ?? SILENT_LOGGER;
    this.#helloTimeoutMs = options.helloTimeoutMs ?? 10_000;
    this.#heartbeatIntervalMs = options.heartbeatIntervalMs ?? 30_000;
    this.#maxRooms = options.maxRoomsPerConnection ?? 16;
    this.#auth = new TokenAuthenticator(tokens);
    this.#dataDir = options.dataDir;
    this.#redis = options.redis;
    this.#relayOptions = options.relay;
    this.#tls = options.tls;
    this.#limits = resolveSignalLimits(options.limits);
    this.#sessionRequests = new SourceLimiter(this.#limits.sessionRequests, this.#limits.maxConnections);
    if (options.stunPorts) this.#stun = new StunResponder({ host: this.#host, ports: options.stunPorts });
  }

  async start(): Promise<SignalServerAddress> {
    if (this.#wss) throw new Error('signal server already started');
    const backplane = await this.#openBackplane();
    this.#backplane = backplane;
    await backplane.start({
      roomChanged: (room, agentIds) => this.#announce(room, agentIds),
      deliver: (connectionId, envelope) => {
        const connection = this.#presence.connection(connectionId);
        if (connection) this.#send(connection, envelope);
      },
    });
    // ws cuts grossly oversized frames itself; up to twice the limit we read them and say why.
    const wss = new WebSocketServer({ noServer: true, maxPayload: this.#maxMessageBytes * 2 });
    this.#wss = wss;
    if (this.#relayOptions && this.#relayOptions.url === undefined) {
      this.#relayHub = new RelayHub({
        secret: this.#relayOptions.secret,
        log: this.#log,
        limits: this.#relayOptions.limits,
      });
    }
    const answer = (request: IncomingMessage, response: ServerResponse) =>
      this.#answerHttp(request, response);
    const http: Server = this.#tls ? createTlsServer(this.#tls, answer) : createServer(answer);
    http.on('upgrade', (request, socket, head) => this.#onUpgrade(request, socket, head));
    this.#http = http;
    await listen(http, this.#port, this.#host).catch((error: Error) => {
      this.#wss = undefined;
      this.#http = undefined;
      throw error;
    });
    if (this.#stun) {
      try {
        this.#stunPorts = (await this.#stun.start()).ports;
      } catch (error) {
        await new Promise<void>((resolve) => http.close(() => resolve()));
        this.#wss = undefined;
        this.#http = undefined;
        // The system error names the UDP port that failed (cannotListen says which).
        throw error;
      }
    }
    http.on('error', (error) => this.#log.error({ err: error.message }, 'signal server error'));
    wss.on('connection', (ws, request) => this.#onConnection(ws, request));
    this.#heartbeat = setInterval(() => this.#checkAlive(), this.#heartbeatIntervalMs);
    const bound = http.address();
    const address = typeof bound === 'object' && bound ? bound.address : this.#host;
    const port = typeof bound === 'object' && bound ? bound.port : this.#port;
    const url = `${this.#tls ? 'wss' : 'ws'}://${address.includes(':') ? `[${address}]` : address}:${port}`;
    const relayUrl = this.#relayHub ? `${url}${RELAY_PATH}` : this.#relayOptions?.url;
    this.#log.info(
      {
        url,
        open: this.#open,
        tokens: this.#auth.size,
        session_ttl_s: this.#sessionTtlS,
        stun_ports: this.#stunPorts,
        relay: relayUrl,
      },
      'signal server listening',
    );
    return {
      address,
      port,
      url,
      ...(this.#stunPorts ? { stunPorts: this.#stunPorts } : {}),
      ...(relayUrl ? { relayUrl } : {}),
    };
  }

  #openBackplane(): Promise<Backplane> | Backplane {
    const pinned = this.#auth.pinnedFingerprints();
    if (this.#redis) return new RedisBackplane({ ...this.#redis, pinned, log: this.#log });
    return IdentityBindings.open({ dataDir: this.#dataDir, pinned, log: this.#log }).then(
      (bindings) => new MemoryBackplane(bindings),
    );
  }

  /** This node's load and its shared store's state. */
  health(): ServerHealth {
    const backplane = this.#backplane?.health() ?? { store: 'memory' as const };
    return {
      status: backplane.store === 'redis' && backplane.state !== 'ready' ? 'degraded' : 'ok',
      ...this.#presence.counts(),
      sessions_brokered: this.#counters.sessionsBrokered,
      messages_relayed: this.#counters.messagesRelayed,
      connections_refused: this.#counters.connectionsRefused,
      slow_clients_dropped: this.#counters.slowClientsDropped,
      session_requests_limited: this.#counters.sessionRequestsLimited,
      backplane,
    };
  }

  /** Plain HTTP: health and metrics; everything else is for WebSocket clients. */
  #answerHttp(request: IncomingMessage, response: ServerResponse): void {
    const path = pathOf(request);
    if (request.method === 'GET' && path === '/healthz') {
      // 200 when degraded too: the node still serves its own agents; `status` tells the difference.
      response
        .writeHead(200, { 'content-type': 'application/json' })
        .end(`${JSON.stringify(this.health())}\n`);
      return;
    }
    if (request.method === 'GET' && path === '/metrics') {
      response
        .writeHead(200, { 'content-type': 'text/plain; version=0.0.4' })
        .end(prometheusText(this.health()));
      return;
    }
    response
      .writeHead(426, { 'content-type': 'text/plain' })
      .end('mesh-agent signaling: connect with WebSocket\n');
  }

  /** Upgrades on the relay path go to the relay hub (when it runs here), every other to signaling. */
  #onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.#relayHub && pathOf(request) === RELAY_PATH) {
      this.#relayHub.upgrade(request, socket, head);
      return;
    }
    const refusal = this.#admission(rateLimitKey(request.socket.remoteAddress ?? '?'));
    if (refusal) {
      this.#counters.connectionsRefused += 1;
      this.#log.debug({ remote: request.socket.remoteAddress, reason: refusal }, 'connection refused');
      // Before the upgrade, so a flood costs no WebSocket state; clients retry with backoff.
      socket.once('finish', () => socket.destroy());
      socket.end(
        `HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 10\r\nContent-Type: text/plain\r\n\r\n${refusal}\n`,
      );
      return;
    }
    this.#wss?.handleUpgrade(request, socket, head, (ws) => this.#wss?.emit('connection', ws, request));
  }

  /** Why a new connection from `source` is refused, or undefined to admit it. */
  #admission(source: string): string | undefined {
    const { maxConnections, maxConnectionsPerAddress } = this.#limits;
    if (this.#sockets.size >= maxConnections)
      return `this server holds its limit of ${maxConnections} connections`;
    if ((this.#perSource.get(source) ?? 0) >= maxConnectionsPerAddress) {
      return `too many connections from your address (limit ${maxConnectionsPerAddress})`;
    }
    return undefined;
  }

  /** Closes every connection (1001) and the listening socket. */
  async stop(): Promise<void> {
    const wss = this.#wss;
    if (!wss) return;
    this.#wss = undefined;
    clearInterval(this.#heartbeat);
    for (const { timer } of this.#deltas.values()) clearTimeout(timer);
    this.#deltas.clear();
    const closing = [...this.#sockets].map(
      (socket) =>
        new Promise<void>((resolve) => {
          if (socket.ws.readyState === WebSocket.CLOSED) return resolve();
          const force = setTimeout(() => socket.ws.terminate(), 1_000);
          socket.ws.once('close', () => {
            clearTimeout(force);
            resolve();
          });
          socket.ws.close(CLOSE_CODES.goingAway, 'server shutting down');
        }),
    );
    await Promise.all(closing);
    await this.#relayHub?.close();
    this.#relayHub = undefined;
    await this.#stun?.stop();
    wss.close();
    const http = this.#http;
    this.#http = undefined;
    if (http) await new Promise<void>((resolve) => http.close(() => resolve()));
    await this.#backplane?.stop();
    this.#backplane = undefined;
    this.#log.info({}, 'signal server stopped');
  }

  #onConnection(ws: WebSocket, request: IncomingMessage): void {
    const remote = `${request.socket.remoteAddress ?? '?'}:${request.socket.remotePort ?? '?'}`;
    const source = rateLimitKey(request.socket.remoteAddress ?? '?');
    this.#perSource.set(source, (this.#perSource.get(source) ?? 0) + 1);
    const socket: Socket = {
      ws,
      remote,
      source,
      bucket: new TokenBucket(this.#rateLimit),
      nonce: randomBytes(32).toString('base64url'),
      helloPending: false,
      alive: true,
      helloTimer: setTimeout(() => {
        this.#sendError(socket, { code: 'hello_required', message: 'no system.hello in time' });
        ws.close(CLOSE_CODES.helloTimeout, 'hello timeout');
      }, this.#helloTimeoutMs),
    };
    this.#sockets.add(socket);
    this.#log.debug({ remote }, 'socket opened');
    ws.on('pong', () => {
      socket.alive = true;
    });
    ws.on('message', (raw, isBinary) => this.#onMessage(socket, raw, isBinary));
    ws.on('error', (error) => this.#log.debug({ remote, err: error.message }, 'socket error'));
    ws.on('close', (code) => this.#onClose(socket, code));
    this.#send(socket, createEnvelope('system.challenge', { nonce: socket.nonce }));
  }

  #onClose(socket: Socket, code: number): void {
    clearTimeout(socket.helloTimer);
    this.#sockets.delete(socket);
    const open = (this.#perSource.get(socket.source) ?? 1) - 1;
    if (open > 0) this.#perSource.set(socket.source, open);
    else this.#perSource.delete(socket.source);
    const connection = socket.connection;
    if (!connection) return;
    const rooms = this.#presence.remove(connection);
    for (const room of rooms) this.#backplane?.leave(room, connection);
    this.#log.info(
      { agent_id: connection.agentId, connection_id: connection.id, code },
      'agent disconnected',
    );
    for (const room of rooms) this.#announce(room, [connection.agentId]);
  }

  #onMessage(socket: Socket, raw: RawData, isBinary: boolean): void {
    socket.alive = true;
    if (!socket.bucket.take()) {
      const { messagesPerSecond, burst } = this.#rateLimit;
      this.#abuse(socket, CLOSE_CODES.rateLimited, {
        code: 'rate_limited',
        message: `more than ${messagesPerSecond} messages/s (burst ${burst}); closing`,
      });
      return;
    }
    const bytes = rawLength(raw);
    if (bytes > this.#maxMessageBytes) {
      this.#abuse(socket, CLOSE_CODES.messageTooLarge, {
        code: 'message_too_large',
        message: `message of ${bytes} bytes exceeds the limit of ${this.#maxMessageBytes} bytes; closing`,
      });
      return;
    }
    if (isBinary) {
      this.#sendError(socket, {
        code: 'invalid_json',
        message: 'binary frames are not part of the protocol',
      });
      return;
    }
    const checked = this.#registry.parse(rawText(raw), 'to_server');
    if (!checked.ok) {
      this.#log.debug({ remote: socket.remote, code: checked.error.code }, checked.error.message);
      this.#sendError(socket, checked.error);
      return;
    }
    try {
      this.#handle(socket, checked.envelope);
    } catch (error) {
      this.#log.error({ err: (error as Error).message, type: checked.envelope.type }, 'handler failed');
      this.#sendError(socket, { code: 'internal', message: 'internal error', ref_id: checked.envelope.id });
    }
  }

  #handle(socket: Socket, envelope: Envelope): void {
    const connection = socket.connection;
    if (envelope.type === 'system.hello') {
      if (connection || socket.helloPending) {
        this.#sendError(socket, {
          code: 'already_authenticated',
          message: 'system.hello was already accepted on this connection',
          ref_id: envelope.id,
        });
        return;
      }
      socket.helloPending = true;
      this.#settle(
        socket,
        envelope,
        this.#onHello(socket, envelope as Envelope<unknown> as Envelope<HelloData>),
      ).finally(() => {
        socket.helloPending = false;
      });
      return;
    }
    if (!connection) {
      this.#sendError(socket, {
        code: 'hello_required',
        message: `system.hello must be the first message, got ${envelope.type}`,
        ref_id: envelope.id,
      });
      return;
    }
    switch (envelope.type) {
      case 'system.ping':
        this.#send(connection, createEnvelope('system.pong', { request_id: envelope.id, ts: Date.now() }));
        return;
      case 'system.pong':
        return;
      case 'system.error':
        this.#log.debug({ agent_id: connection.agentId, ...envelope.data }, 'agent reported an error');
        return;
      case 'room.join':
        this.#settle(
          socket,
          envelope,
          this.#onJoin(connection, envelope as Envelope<unknown> as Envelope<RoomData>),
        );
        return;
      case 'room.leave':
        this.#onLeave(connection, envelope as Envelope<unknown> as Envelope<RoomData>);
        return;
      case 'room.members':
        this.#onMembers(connection, envelope as Envelope<unknown> as Envelope<RoomData>);
        return;
      case 'p2p.request':
        this.#settle(
          socket,
          envelope,
          this.#onP2pRequest(connection, envelope as Envelope<unknown> as Envelope<P2pRequestData>),
        );
        return;
      case 'p2p.candidates': {
        const { candidates, nat } = (envelope as Envelope<unknown> as Envelope<CandidatesData>).data;
        connection.candidates = candidates;
        connection.nat = nat;
        for (const room of connection.rooms) void this.#backplane?.join(room, connection);
        return;
      }
    }
    if (!isCorePlane(envelope.type)) {
      this.#settle(socket, envelope, this.#relay(connection, envelope));
      return;
    }
    // The registry lets through only the types handled above; this guards against drift.
    this.#sendError(socket, {
      code: 'unknown_event',
      message: `unhandled event type "${envelope.type}"`,
      ref_id: envelope.id,
    });
  }

  /** Answers a handler that failed after it went async, as `#onMessage` does for synchronous ones. */
  #settle(socket: Socket, envelope: Envelope, handling: Promise<void>): Promise<void> {
    return handling.catch((error: Error) => {
      this.#log.error({ err: error.message, type: envelope.type }, 'handler failed');
      this.#sendError(socket, { code: 'internal', message: 'internal error', ref_id: envelope.id });
    });
  }

  async #onHello(socket: Socket, envelope: Envelope<HelloData>): Promise<void> {
    const hello = envelope.data;
    const refuse = (code: 'unauthorized' | 'identity_conflict' | 'room_forbidden', message: string) => {
      this.#abuse(socket, CLOSE_CODES.unauthorized, { code, message, ref_id: envelope.id });
    };
    const proof = verifyHelloProof(
      {
        certificate: hello.certificate,
        proof: hello.proof,
        agentId: hello.agent_id,
        fingerprint: hello.fingerprint,
      },
      socket.nonce,
    );
    if (proof !== 'ok') {
      refuse(
        'unauthorized',
        `authentication failed: no proof of the key for fingerprint ${hello.fingerprint.slice(0, 16)}… (${proof})`,
      );
      return;
    }
    let allowedRooms: RoomGrant = ANY_ROOM;
    if (!this.#open) {
      const result = this.#auth.check(hello.token, hello.agent_id);
      if (!result.ok) {
        refuse(
          'unauthorized',
          result.reason === 'missing'
            ? 'authentication failed: a bearer token is required'
            : `authentication failed: invalid token for agent "${hello.agent_id}"`,
        );
        return;
      }
      allowedRooms = result.rooms;
    }
    const room = hello.room ?? DEFAULT_ROOM;
    if (!mayJoin(allowedRooms, room)) {
      refuse('room_forbidden', `your token does not grant room "${room}"`);
      return;
    }
    if (checkDerivedAgentId(hello.agent_id, hello.fingerprint) === 'mismatch') {
      refuse('identity_conflict', `agent id "${hello.agent_id}" is derived from another key than yours`);
      return;
    }
    let claim: Awaited<ReturnType<Backplane['bindings']['claim']>>;
    try {
      claim = await this.#backplane!.bindings.claim(hello.agent_id, hello.fingerprint);
    } catch (error) {
      if (!(error instanceof BindingsUnavailableError)) throw error;
      // Not the agent's fault: it retries (with backoff) instead of giving up as on a refusal.
      this.#log.warn({ agent_id: hello.agent_id }, `hello deferred: ${error.message}`);
      this.#sendError(socket, {
        code: 'unavailable',
        message: `${error.message}; try again later`,
        ref_id: envelope.id,
      });
      socket.ws.close(CLOSE_CODES.tryAgainLater, 'unavailable');
      return;
    }
    if (!claim.ok) {
      refuse(
        'identity_conflict',
        `agent id "${hello.agent_id}" is bound to another key (fingerprint ${claim.boundTo.slice(0, 16)}…); ` +
          'use your own id, or ask the server operator to release this one',
      );
      return;
    }
    if (socket.ws.readyState !== WebSocket.OPEN) return;
    clearTimeout(socket.helloTimer);
    const connection: Connection = {
      id: randomBytes(9).toString('base64url'),
      agentId: hello.agent_id,
      capabilities: [...hello.capabilities],
      addresses: hello.addresses.map((a) => ({ address: a.address, port: a.port })),
      fingerprint: hello.fingerprint,
      connectedAt: Date.now(),
      seq: ++this.#seq,
      rooms: new Set(),
      ws: socket.ws,
      allowedRooms,
      // Until it announces candidates (after its STUN round trip), its listen addresses stand in.
      candidates: hello.addresses.map((a) => ({ address: a.address, port: a.port, type: 'host' as const })),
      nat: undefined,
    };
    socket.connection = connection;
    this.#presence.add(connection);
    await this.#joinRoom(connection, room);
    this.#log.info(
      {
        agent_id: connection.agentId,
        connection_id: connection.id,
        room,
        remote: socket.remote,
        version: hello.version,
      },
      'agent connected',
    );
    const welcome: WelcomeData = {
      agent_id: connection.agentId,
      server_version: SERVER_VERSION,
      session_ttl_s: this.#sessionTtlS,
      connection_id: connection.id,
      ...(this.#stunPorts ? { stun: { ports: this.#stunPorts } } : {}),
    };
    this.#send(connection, createEnvelope('system.welcome', welcome));
    this.#welcomeToRoom(connection, room);
  }

  async #onJoin(connection: Connection, envelope: Envelope<RoomData>): Promise<void> {
    const { room } = envelope.data;
    if (!mayJoin(connection.allowedRooms, room)) {
      this.#sendError(connection, {
        code: 'room_forbidden',
        message: `your token does not grant room "${room}"`,
        ref_id: envelope.id,
      });
      return;
    }
    if (!connection.rooms.has(room) && connection.rooms.size >= this.#maxRooms) {
      this.#sendError(connection, {
        code: 'too_many_rooms',
        message: `a connection may be in at most ${this.#maxRooms} rooms`,
        ref_id: envelope.id,
      });
      return;
    }
    if (connection.rooms.has(room)) {
      this.#sendMembers(connection, room, envelope.id);
      return;
    }
    await this.#joinRoom(connection, room);
    this.#welcomeToRoom(connection, room, envelope.id);
  }

  async #joinRoom(connection: Connection, room: string): Promise<void> {
    this.#presence.join(connection, room);
    await this.#backplane?.join(room, connection);
  }

  #onLeave(connection: Connection, envelope: Envelope<RoomData>): void {
    const { room } = envelope.data;
    if (!this.#presence.leave(connection, room)) {
      this.#sendNotInRoom(connection, room, envelope.id);
      return;
    }
    this.#backplane?.leave(room, connection);
    this.#sendMembers(connection, room, envelope.id);
    this.#announce(room, [connection.agentId]);
  }

  #onMembers(connection: Connection, envelope: Envelope<RoomData>): void {
    const { room } = envelope.data;
    if (!connection.rooms.has(room)) {
      this.#sendNotInRoom(connection, room, envelope.id);
      return;
    }
    this.#sendMembers(connection, room, envelope.id);
  }

  async #onP2pRequest(initiator: Connection, envelope: Envelope<P2pRequestData>): Promise<void> {
    const { peer_id: peerId, stream_type: streamType, candidates, nat } = envelope.data;
    if (peerId === initiator.agentId) {
      this.#sendError(initiator, {
        code: 'peer_is_self',
        message: 'an agent cannot open a P2P session with itself',
        ref_id: envelope.id,
      });
      return;
    }
    if (!this.#sessionRequests.take(initiator.agentId)) {
      this.#counters.sessionRequestsLimited += 1;
      const { messagesPerSecond, burst } = this.#limits.sessionRequests;
      this.#sendError(initiator, {
        code: 'rate_limited',
        message: `more than ${messagesPerSecond} session requests/s (burst ${burst}) from this agent; try again shortly`,
        ref_id: envelope.id,
      });
      return;
    }
    const reachable = this.#reachable(peerId, initiator);
    if (reachable.length === 0) {
      this.#sendPeerMissing(initiator, peerId, envelope.id);
      return;
    }
    // The peer's preferred connection: one that handles the stream type, the newest of those.
    const responder = reachable.find((c) => c.capabilities.includes(streamType));
    if (!responder) {
      this.#sendError(initiator, {
        code: 'capability_missing',
        message: `agent "${peerId}" does not handle stream type "${streamType}"`,
        ref_id: envelope.id,
      });
      return;
    }
    const sessionId = randomUUID();
    const token = randomBytes(32).toString('base64url');
    const expiresAt = Date.now() + this.#sessionTtlS * 1000;
    const common = {
      session_id: sessionId,
      token,
      expires_at: expiresAt,
      stream_type: streamType,
      request_id: envelope.id,
    };
    // A one-shot initiator announces its candidates with the request; a daemon's are on file.
    const initiatorPath = { candidates: candidates ?? initiator.candidates, nat: nat ?? initiator.nat };
    const responderPath = { candidates: responder.candidates, nat: responder.nat };
    const toInitiator: P2pSessionData = {
      ...common,
      ...peerFields(responder, responderPath),
      ...this.#relayFor(sessionId, initiator.agentId, responder.agentId, expiresAt),
      role: 'initiator',
    };
    const toResponder: P2pSessionData = {
      ...common,
      ...peerFields(initiator, initiatorPath),
      ...this.#relayFor(sessionId, responder.agentId, initiator.agentId, expiresAt),
      role: 'responder',
    };
    // The responder first: when its node is gone, the initiator hears so instead of a dead session.
    if (!(await this.#deliver(responder, createEnvelope('p2p.session', toResponder)))) {
      this.#sendPeerMissing(initiator, peerId, envelope.id);
      return;
    }
    this.#send(initiator, createEnvelope('p2p.session', toInitiator));
    this.#counters.sessionsBrokered += 1;
    this.#log.info(
      {
        session_id: sessionId,
        initiator: initiator.agentId,
        responder: responder.agentId,
        stream_type: streamType,
        expires_at: expiresAt,
      },
      'p2p session minted',
    );
  }

  /** The relay grant of one side of a session, when a relay is configured. */
  #relayFor(sessionId: string, agentId: string, peerId: string, expiresAt: number) {
    const relay = this.#relayOptions;
    if (!relay) return {};
    const grant = mintRelayGrant(relay.secret, { sessionId, agentId, peerId, expiresAt });
    return { relay: relay.url ? { grant, url: relay.url } : { grant } };
  }

  /** A plugin event: hand it to the addressed agent of a shared room, stamped with the sender. */
  async #relay(sender: Connection, envelope: Envelope): Promise<void> {
    const { to, to_conn: toConn, ...rest } = envelope.data as { to: string; to_conn?: string };
    const reachable = this.#reachable(to, sender);
    const target = toConn === undefined ? reachable[0] : reachable.find((c) => c.id === toConn);
    const data = { ...rest, to, from: sender.agentId, from_conn: sender.id };
    if (!target || !(await this.#deliver(target, { type: envelope.type, id: envelope.id, data }))) {
      this.#sendPeerMissing(sender, to, envelope.id);
      return;
    }
    this.#counters.messagesRelayed += 1;
    this.#log.debug({ type: envelope.type, from: sender.agentId, to }, 'relayed plugin event');
  }

  /** Connections of `agentId` on any node that share a room with `asker`, newest first. */
  #reachable(agentId: string, asker: Connection): Array<Connection | RemoteConnection> {
    const remote = new Map<string, RemoteConnection>();
    for (const room of asker.rooms) {
      for (const connection of this.#backplane?.remote(room) ?? []) {
        if (connection.agentId === agentId) remote.set(`${connection.node}/${connection.id}`, connection);
      }
    }
    return [...this.#presence.reachableConnections(agentId, asker), ...remote.values()].sort(newestFirst);
  }

  /** Sends to a connection of this node, or through the backplane to another node's; false when lost. */
  async #deliver(target: Connection | RemoteConnection, envelope: Envelope<unknown>): Promise<boolean> {
    if ('ws' in target) {
      this.#send(target, envelope);
      return true;
    }
    return (await this.#backplane?.send(target, envelope)) ?? false;
  }

  #sendPeerMissing(connection: Connection, peerId: string, refId: string): void {
    const seenElsewhere = [...connection.rooms].some((room) =>
      this.#backplane?.remote(room).some((c) => c.agentId === peerId),
    );
    const seen = seenElsewhere || this.#presence.wasSeenIn(peerId, connection.rooms);
    this.#sendError(connection, {
      code: seen ? 'peer_offline' : 'peer_unknown',
      message: seen
        ? `agent "${peerId}" is not connected to any of your rooms`
        : `agent "${peerId}" is not known in your rooms`,
      ref_id: refId,
    });
  }

  #sendNotInRoom(connection: Connection, room: string, refId: string): void {
    this.#sendError(connection, { code: 'not_in_room', message: `not in room "${room}"`, ref_id: refId });
  }

  #sendMembers(connection: Connection, room: string, requestId?: string): void {
    const data: MembersData = { room, members: this.#members(room) };
    if (requestId) data.request_id = requestId;
    this.#send(connection, createEnvelope('room.members', data));
  }

  /** The room's connections on every node. */
  #connectionsIn(room: string): ConnectionInfo[] {
    return [...this.#presence.connectionsIn(room), ...(this.#backplane?.remote(room) ?? [])];
  }

  /** The room's agents on every node. */
  #members(room: string): Member[] {
    return membersOf(this.#connectionsIn(room));
  }

  /** The connection just entered the room: it gets the whole list now, the others a delta shortly. */
  #welcomeToRoom(connection: Connection, room: string, requestId?: string): void {
    this.#sendMembers(connection, room, requestId);
    this.#announce(room, [connection.agentId]);
  }

  /**
   * Tells the room's members on this node that these agents came, changed or went. Changes are
   * gathered for a moment and go out as one delta, serialised once: in a join storm a member gets
   * one message per batch rather than one per join, and a change costs a few bytes per member
   * however big the room is.
   */
  #announce(room: string, agentIds: Iterable<string>): void {
    let batch = this.#deltas.get(room);
    if (!batch) {
      batch = { agents: new Set(), timer: setTimeout(() => this.#sendDelta(room), DELTA_BATCH_MS) };
      this.#deltas.set(room, batch);
    }
    for (const agentId of agentIds) batch.agents.add(agentId);
  }

  /** Each changed agent as it stands now: its merged entry, or gone. */
  #sendDelta(room: string): void {
    const changed = this.#deltas.get(room)?.agents ?? new Set<string>();
    this.#deltas.delete(room);
    const joined = membersOf(this.#connectionsIn(room).filter((c) => changed.has(c.agentId)));
    const present = new Set(joined.map((m) => m.agent_id));
    const delta: MembersDeltaData = { room, joined, left: [...changed].filter((id) => !present.has(id)) };
    const text = JSON.stringify(createEnvelope('room.delta', delta));
    for (const connection of this.#presence.connectionsIn(room)) this.#sendText(connection, text);
  }

  /** Answers with an error and closes: authentication failures and abuse. */
  #abuse(socket: Socket, closeCode: number, error: ErrorData): void {
    if (socket.ws.readyState !== WebSocket.OPEN) return;
    this.#log.warn(
      { remote: socket.remote, agent_id: socket.connection?.agentId, code: error.code },
      error.message,
    );
    this.#sendError(socket, error);
    socket.ws.close(closeCode, error.code);
  }

  #sendError(target: Socket | Connection, error: ErrorData): void {
    this.#send(target, createEnvelope('system.error', error));
  }

  #send(target: Socket | Connection, envelope: Envelope<unknown>): void {
    this.#sendText(target, JSON.stringify(envelope));
  }

  /** Sends serialised text (a broadcast serialises once), dropping a client that stopped reading. */
  #sendText(target: Socket | Connection, text: string): void {
    if (target.ws.readyState !== WebSocket.OPEN) return;
    target.ws.send(text);
    if (target.ws.bufferedAmount > this.#limits.maxBufferedBytes) {
      // A client that does not read would make the server hold everything sent to it.
      this.#counters.slowClientsDropped += 1;
      const socket = 'remote' in target ? target : undefined;
      this.#log.warn(
        {
          agent_id: 'agentId' in target ? target.agentId : undefined,
          remote: socket?.remote,
          buffered: target.ws.bufferedAmount,
        },
        'dropping a client that does not read',
      );
      target.ws.terminate();
    }
  }

  #checkAlive(): void {
    for (const socket of this.#sockets) {
      if (!socket.alive) {
        this.#log.info(
          { remote: socket.remote, agent_id: socket.connection?.agentId },
          'dropping silent connection',
        );
        socket.ws.terminate();
        continue;
      }
      socket.alive = false;
      socket.ws.ping();
    }
  }
}

function peerFields(peer: ConnectionInfo, path: { candidates: Candidate[]; nat: ConnectionInfo['nat'] }) {
  return {
    peer_id: peer.agentId,
    peer_addresses: peer.addresses.map((a) => ({ address: a.address, port: a.port })),
    peer_fingerprint: peer.fingerprint,
    peer_candidates: path.candidates.map((c) => ({ address: c.address, port: c.port, type: c.type })),
    ...(path.nat ? { peer_nat: path.nat } : {}),
  };
}

function rawLength(raw: RawData): number {
  if (Array.isArray(raw)) return raw.reduce((sum, part) => sum + part.length, 0);
  return raw.byteLength;
}

function rawText(raw: RawData): string {
  if (Array.isArray(raw)) return Buffer.concat(raw).toString('utf8');
  if (raw instanceof ArrayBuffer) return Buffer.from(raw).toString('utf8');
  return raw.toString('utf8');
}

interface CheckedSettings {
  port: number;
  open: boolean;
  sessionTtlS: number;
  maxMessageBytes: number;
  rateLimit: RateLimitOptions;
}

function checkSettings(settings: CheckedSettings, tokens: ReadonlyArray<TokenEntry | string>): void {
  const { port, open, sessionTtlS, maxMessageBytes, rateLimit } = settings;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new SignalServerConfigError(`port must be an integer 0–65535, got ${port}`);
  }
  if (!Number.isInteger(sessionTtlS) || sessionTtlS < SESSION_TTL_MIN_S || sessionTtlS > SESSION_TTL_MAX_S) {
    throw new SignalServerConfigError(
      `session TTL must be ${SESSION_TTL_MIN_S}–${SESSION_TTL_MAX_S} s, got ${sessionTtlS}`,
    );
  }
  if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < 1024) {
    throw new SignalServerConfigError(`maxMessageBytes must be an integer ≥ 1024, got ${maxMessageBytes}`);
  }
  if (!(rateLimit.messagesPerSecond > 0) || !(rateLimit.burst >= 1)) {
    throw new SignalServerConfigError('rate limit needs messagesPerSecond > 0 and burst ≥ 1');
  }
  if (!open && tokens.length === 0) {
    throw new SignalServerConfigError(
      'no tokens configured: give at least one token, or run open explicitly',
    );
  }
  for (const entry of tokens) {
    const token = typeof entry === 'string' ? entry : entry.token;
    if (token.length < MIN_TOKEN_LENGTH) {
      throw new SignalServerConfigError(`tokens must be at least ${MIN_TOKEN_LENGTH} characters long`);
    }
  }
}
