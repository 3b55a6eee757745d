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
  type MembersData,
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
import { listen } from './listen.js';
import { type AgentConnection, Presence } from './presence.js';
import { DEFAULT_RATE_LIMIT, type RateLimitOptions, TokenBucket } from './rate-limit.js';
import { mintRelayGrant } from './relay/grants.js';
import { RelayHub } from './relay/hub.js';
import type { RelayLimits } from './relay/limits.js';
import { pathOf } from './relay/relay-server.js';
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
  #bindings: IdentityBindings | undefined;
  readonly #registry = new EventRegistry();
  readonly #presence = new Presence<Connection>();
  readonly #sockets = new Set<Socket>();
  #wss: WebSocketServer | undefined;
  #http: Server | undefined;
  #stun: StunResponder | undefined;
  #stunPorts: [number, number] | undefined;
  readonly #relayOptions: SignalServerOptions['relay'];
  readonly #tls: SignalServerOptions['tls'];
  #relayHub: RelayHub | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #seq = 0;

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
    this.#relayOptions = options.relay;
    this.#tls = options.tls;
    if (options.stunPorts) this.#stun = new StunResponder({ host: this.#host, ports: options.stunPorts });
  }

  async start(): Promise<SignalServerAddress> {
    if (this.#wss) throw new Error('signal server already started');
    this.#bindings ??= await IdentityBindings.open({
      dataDir: this.#dataDir,
      pinned: this.#auth.pinnedFingerprints(),
      log: this.#log,
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
    const answer = (_request: IncomingMessage, response: ServerResponse) => {
      response
        .writeHead(426, { 'content-type': 'text/plain' })
        .end('mesh-agent signaling: connect with WebSocket\n');
    };
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
        throw new Error(`STUN ports: ${(error as Error).message}`);
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

  /** Upgrades on the relay path go to the relay hub (when it runs here), every other to signaling. */
  #onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.#relayHub && pathOf(request) === RELAY_PATH) {
      this.#relayHub.upgrade(request, socket, head);
      return;
    }
    this.#wss?.handleUpgrade(request, socket, head, (ws) => this.#wss?.emit('connection', ws, request));
  }

  /** Closes every connection (1001) and the listening socket. */
  async stop(): Promise<void> {
    const wss = this.#wss;
    if (!wss) return;
    this.#wss = undefined;
    clearInterval(this.#heartbeat);
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
    await this.#bindings?.flush();
    this.#log.info({}, 'signal server stopped');
  }

  #onConnection(ws: WebSocket, request: IncomingMessage): void {
    const remote = `${request.socket.remoteAddress ?? '?'}:${request.socket.remotePort ?? '?'}`;
    const socket: Socket = {
      ws,
      remote,
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
    const connection = socket.connection;
    if (!connection) return;
    const rooms = this.#presence.remove(connection);
    this.#log.info(
      { agent_id: connection.agentId, connection_id: connection.id, code },
      'agent disconnected',
    );
    for (const room of rooms) this.#broadcastMembers(room);
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
      this.#onHello(socket, envelope as Envelope<unknown> as Envelope<HelloData>)
        .catch((error: Error) => {
          this.#log.error({ err: error.message }, 'hello failed');
          this.#sendError(socket, { code: 'internal', message: 'internal error', ref_id: envelope.id });
        })
        .finally(() => {
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
        this.#onJoin(connection, envelope as Envelope<unknown> as Envelope<RoomData>);
        return;
      case 'room.leave':
        this.#onLeave(connection, envelope as Envelope<unknown> as Envelope<RoomData>);
        return;
      case 'room.members':
        this.#onMembers(connection, envelope as Envelope<unknown> as Envelope<RoomData>);
        return;
      case 'p2p.request':
        this.#onP2pRequest(connection, envelope as Envelope<unknown> as Envelope<P2pRequestData>);
        return;
      case 'p2p.candidates': {
        const { candidates, nat } = (envelope as Envelope<unknown> as Envelope<CandidatesData>).data;
        connection.candidates = candidates;
        connection.nat = nat;
        return;
      }
    }
    if (!isCorePlane(envelope.type)) {
      this.#relay(connection, envelope);
      return;
    }
    // The registry lets through only the types handled above; this guards against drift.
    this.#sendError(socket, {
      code: 'unknown_event',
      message: `unhandled event type "${envelope.type}"`,
      ref_id: envelope.id,
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
    const claim = await this.#bindings!.claim(hello.agent_id, hello.fingerprint);
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
    this.#presence.join(connection, room);
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
    this.#broadcastMembers(room);
  }

  #onJoin(connection: Connection, envelope: Envelope<RoomData>): void {
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
    this.#presence.join(connection, room);
    this.#broadcastMembers(room, connection, envelope.id);
  }

  #onLeave(connection: Connection, envelope: Envelope<RoomData>): void {
    const { room } = envelope.data;
    if (!this.#presence.leave(connection, room)) {
      this.#sendNotInRoom(connection, room, envelope.id);
      return;
    }
    this.#sendMembers(connection, room, envelope.id);
    this.#broadcastMembers(room);
  }

  #onMembers(connection: Connection, envelope: Envelope<RoomData>): void {
    const { room } = envelope.data;
    if (!connection.rooms.has(room)) {
      this.#sendNotInRoom(connection, room, envelope.id);
      return;
    }
    this.#sendMembers(connection, room, envelope.id);
  }

  #onP2pRequest(initiator: Connection, envelope: Envelope<P2pRequestData>): void {
    const { peer_id: peerId, stream_type: streamType, candidates, nat } = envelope.data;
    if (peerId === initiator.agentId) {
      this.#sendError(initiator, {
        code: 'peer_is_self',
        message: 'an agent cannot open a P2P session with itself',
        ref_id: envelope.id,
      });
      return;
    }
    const reachable = this.#presence.reachableConnections(peerId, initiator);
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
    this.#send(initiator, createEnvelope('p2p.session', toInitiator));
    this.#send(responder, createEnvelope('p2p.session', toResponder));
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
  #relay(sender: Connection, envelope: Envelope): void {
    const { to, to_conn: toConn, ...rest } = envelope.data as { to: string; to_conn?: string };
    const reachable = this.#presence.reachableConnections(to, sender);
    const target = toConn === undefined ? reachable[0] : reachable.find((c) => c.id === toConn);
    if (!target) {
      this.#sendPeerMissing(sender, to, envelope.id);
      return;
    }
    const data = { ...rest, to, from: sender.agentId, from_conn: sender.id };
    this.#send(target, { type: envelope.type, id: envelope.id, data });
    this.#log.debug({ type: envelope.type, from: sender.agentId, to }, 'relayed plugin event');
  }

  #sendPeerMissing(connection: Connection, peerId: string, refId: string): void {
    const seen = this.#presence.wasSeenIn(peerId, connection.rooms);
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
    const data: MembersData = { room, members: this.#presence.members(room) };
    if (requestId) data.request_id = requestId;
    this.#send(connection, createEnvelope('room.members', data));
  }

  /** Everyone in the room gets the new list; `requester`'s copy answers its request. */
  #broadcastMembers(room: string, requester?: Connection, requestId?: string): void {
    const members = this.#presence.members(room);
    for (const connection of this.#presence.connectionsIn(room)) {
      const data: MembersData = { room, members };
      if (connection === requester && requestId) data.request_id = requestId;
      this.#send(connection, createEnvelope('room.members', data));
    }
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
    if (target.ws.readyState !== WebSocket.OPEN) return;
    target.ws.send(JSON.stringify(envelope));
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

function peerFields(peer: Connection, path: { candidates: Candidate[]; nat: Connection['nat'] }) {
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
