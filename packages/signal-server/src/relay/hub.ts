import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { SILENT_LOGGER, type SignalingLogger } from '@mesh-agent/host';
import {
  MAX_RELAY_BIND_BYTES,
  parseRelayBind,
  RELAY_CLOSE_CODES,
  RELAY_ERROR_CLOSE_CODES,
  type RelayErrorCode,
  type RelayServerMessage,
  TickCorker,
} from '@mesh-agent/host/nat';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { TokenBucket } from '../rate-limit.js';
import { checkRelaySecret, type RelayGrant, type RelayGrantRefusal, verifyRelayGrant } from './grants.js';
import { type RelayLimits, resolveRelayLimits } from './limits.js';

export interface RelayHubOptions {
  /** The secret relay grants are signed with (at least 32 bytes). Never logged. */
  secret: Buffer;
  log?: SignalingLogger;
  limits?: Partial<RelayLimits>;
}

/** Counters since the hub started, and what it holds now. */
export interface RelayHubStats {
  sessions: number;
  boundSockets: number;
  unboundSockets: number;
  datagramsForwarded: number;
  bytesForwarded: number;
  /** Over the session's rate. */
  droppedRate: number;
  /** The receiving socket held more than `maxBufferedBytes`. */
  droppedBackpressure: number;
  /** The other side was not bound. */
  droppedNoPeer: number;
  refusedBinds: number;
  stalledTerminated: number;
}

/** One side of a session: the agent a grant names, and its socket while bound. */
interface Side {
  readonly agentId: string;
  socket: RelaySocket | undefined;
}

interface RelaySession {
  readonly id: string;
  readonly sides: readonly [Side, Side];
  /** Latest expiry of the grants seen; an empty session is forgotten after it. */
  expiresAt: number;
  /** Bytes received from both sides. */
  bytes: number;
  readonly bucket: TokenBucket;
  /** Used up its byte allowance: closed, and refuses rebinds until it is forgotten. */
  exhausted: boolean;
}

interface RelaySocket {
  readonly ws: WebSocket;
  readonly remote: string;
  bindTimer: NodeJS.Timeout | undefined;
  binding: { session: RelaySession; side: Side } | undefined;
  /** Since when (performance.now) the socket holds more than the buffer cap. */
  stalledSince: number | undefined;
  /** Heard from since the last heartbeat. */
  alive: boolean;
}

const BINARY = { binary: true } as const;

const GRANT_REFUSALS: Record<RelayGrantRefusal, string> = {
  malformed: 'the grant is malformed',
  bad_mac: 'the grant is not signed by this relay',
  expired: 'the grant has expired',
};

/**
 * Forwards QUIC datagrams between the two agents of a session, within limits. It reads none of
 * them: QUIC's TLS runs end to end through it. Memory stays bounded: a datagram the receiver
 * cannot take is dropped (QUIC recovers, as from UDP loss), never queued.
 */
export class RelayHub {
  readonly #secret: Buffer;
  readonly #log: SignalingLogger;
  readonly #limits: RelayLimits;
  readonly #sockets = new Set<RelaySocket>();
  readonly #sessions = new Map<string, RelaySession>();
  /** Sessions in which each agent id is bound now. */
  readonly #agentSessions = new Map<string, Set<string>>();
  readonly #unboundByAddress = new Map<string, number>();
  readonly #sweep: NodeJS.Timeout;
  readonly #heartbeat: NodeJS.Timeout;
  readonly #corker = new TickCorker();
  #wss: WebSocketServer | undefined;
  #closed = false;
  readonly #counters = {
    datagramsForwarded: 0,
    bytesForwarded: 0,
    droppedRate: 0,
    droppedBackpressure: 0,
    droppedNoPeer: 0,
    refusedBinds: 0,
    stalledTerminated: 0,
  };

  constructor(options: RelayHubOptions) {
    checkRelaySecret(options.secret);
    this.#secret = options.secret;
    this.#log = options.log ?? SILENT_LOGGER;
    this.#limits = resolveRelayLimits(options.limits);
    const sweepMs = Math.min(1_000, Math.max(50, this.#limits.stalledTimeoutMs / 4));
    this.#sweep = setInterval(() => this.#sweepSockets(), sweepMs).unref();
    this.#heartbeat = setInterval(() => this.#ping(), this.#limits.heartbeatIntervalMs).unref();
  }

  get limits(): Readonly<RelayLimits> {
    return this.#limits;
  }

  /**
   * Takes an HTTP upgrade request for the relay path: use it from an `upgrade` listener. The
   * WebSocket settings (no compression, payload cap) are the hub's own.
   */
  upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.#wss ??= new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: Math.max(this.#limits.maxDatagramBytes, MAX_RELAY_BIND_BYTES),
    });
    this.#wss.handleUpgrade(request, socket, head, (ws) =>
      this.handle(ws, request.socket.remoteAddress ?? 'unknown'),
    );
  }

  /** Serves one upgraded WebSocket; `remote` is the client's address (the unbound cap counts per address). */
  handle(ws: WebSocket, remote: string): void {
    if (this.#closed) {
      ws.close(RELAY_CLOSE_CODES.goingAway, 'relay shutting down');
      return;
    }
    ws.binaryType = 'nodebuffer';
    const socket: RelaySocket = {
      ws,
      remote,
      bindTimer: undefined,
      binding: undefined,
      stalledSince: undefined,
      alive: true,
    };
    this.#sockets.add(socket);
    ws.on('close', () => this.#onClose(socket));
    ws.on('error', (error) => this.#log.debug({ remote, err: error.message }, 'relay socket error'));
    const unbound = this.#unboundByAddress.get(remote) ?? 0;
    this.#unboundByAddress.set(remote, unbound + 1);
    if (unbound >= this.#limits.maxUnboundPerAddress) {
      this.#refuse(
        socket,
        'too_many_unbound',
        `more than ${this.#limits.maxUnboundPerAddress} unbound sockets`,
      );
      return;
    }
    socket.bindTimer = setTimeout(
      () => this.#refuse(socket, 'bind_timeout', `no relay.bind within ${this.#limits.bindTimeoutMs} ms`),
      this.#limits.bindTimeoutMs,
    );
    ws.on('pong', () => {
      socket.alive = true;
    });
    ws.on('message', (data, isBinary) => this.#onMessage(socket, data, isBinary));
  }

  stats(): RelayHubStats {
    let bound = 0;
    for (const socket of this.#sockets) if (socket.binding) bound++;
    return {
      sessions: this.#sessions.size,
      boundSockets: bound,
      unboundSockets: this.#sockets.size - bound,
      ...this.#counters,
    };
  }

  /** Closes every socket (1001) and stops the timers; resolves once all sockets are closed. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweep);
    clearInterval(this.#heartbeat);
    await Promise.all([...this.#sockets].map((socket) => closeWithin(socket.ws, 1_000)));
    this.#wss?.close();
  }

  #onMessage(socket: RelaySocket, data: RawData, isBinary: boolean): void {
    // After a refusal or a protocol error, what the client had already sent is ignored.
    if (socket.ws.readyState !== WebSocket.OPEN) return;
    socket.alive = true;
    // binaryType 'nodebuffer': every message is one Buffer.
    const bytes = data as Buffer;
    if (socket.binding && isBinary) this.#forward(socket, bytes);
    else if (socket.binding) this.#protocolError(socket, 'text message after relay.bind');
    else if (isBinary) this.#protocolError(socket, 'binary message before relay.bind');
    else if (bytes.length > MAX_RELAY_BIND_BYTES)
      socket.ws.close(RELAY_CLOSE_CODES.tooLarge, 'relay.bind too large');
    else this.#onBind(socket, bytes.toString('utf8'));
  }

  #onBind(socket: RelaySocket, text: string): void {
    const parsed = parseRelayBind(text);
    if (!parsed.ok) {
      this.#protocolError(socket, parsed.reason);
      return;
    }
    const check = verifyRelayGrant(this.#secret, parsed.bind.grant);
    if (!check.ok) {
      this.#refuse(socket, check.reason, GRANT_REFUSALS[check.reason]);
      return;
    }
    const refusal = this.#refusal(check.grant);
    if (refusal) this.#refuse(socket, refusal.code, refusal.message);
    else this.#bind(socket, check.grant);
  }

  /** Why a valid grant cannot bind now, or undefined when it can. */
  #refusal(grant: RelayGrant): { code: RelayErrorCode; message: string } | undefined {
    const existing = this.#sessions.get(grant.sessionId);
    const side = existing && sideOf(existing, grant);
    if (existing && !side) {
      return { code: 'session_mismatch', message: 'the grant names other agents than this session' };
    }
    if (existing?.exhausted) return { code: 'session_closed', message: 'the session reached its byte cap' };
    const bound = this.#agentSessions.get(grant.agentId)?.size ?? 0;
    if (!side?.socket && bound >= this.#limits.maxSessionsPerAgent) {
      return {
        code: 'too_many_sessions',
        message: `agent already has ${this.#limits.maxSessionsPerAgent} relayed sessions`,
      };
    }
    return undefined;
  }

  #bind(socket: RelaySocket, grant: RelayGrant): void {
    const session = this.#sessions.get(grant.sessionId) ?? this.#newSession(grant);
    const mine = sideOf(session, grant) as Side;
    const other = otherSide(session, mine);

    clearTimeout(socket.bindTimer);
    socket.bindTimer = undefined;
    this.#decrementUnbound(socket.remote);
    session.expiresAt = Math.max(session.expiresAt, grant.expiresAt);
    const previous = mine.socket;
    mine.socket = socket;
    socket.binding = { session, side: mine };
    const agentSessions = this.#agentSessions.get(grant.agentId) ?? new Set<string>();
    this.#agentSessions.set(grant.agentId, agentSessions.add(session.id));

    this.#sendText(socket, {
      type: 'relay.bound',
      session_id: session.id,
      peer: other.socket ? 'present' : 'absent',
    });
    if (previous) {
      previous.ws.close(RELAY_CLOSE_CODES.replaced, 'replaced by a newer bind');
    } else if (other.socket) {
      this.#sendText(other.socket, { type: 'relay.peer', state: 'present' });
    }
    this.#log.info(
      { session_id: session.id, agent_id: grant.agentId, remote: socket.remote, replaced: Boolean(previous) },
      'relay bound',
    );
  }

  #newSession(grant: RelayGrant): RelaySession {
    const session: RelaySession = {
      id: grant.sessionId,
      sides: [
        { agentId: grant.agentId, socket: undefined },
        { agentId: grant.peerId, socket: undefined },
      ],
      expiresAt: grant.expiresAt,
      bytes: 0,
      bucket: new TokenBucket({
        // One token per byte.
        messagesPerSecond: this.#limits.sessionBytesPerSecond,
        burst: this.#limits.sessionBurstBytes,
      }),
      exhausted: false,
    };
    this.#sessions.set(session.id, session);
    return session;
  }

  #forward(socket: RelaySocket, datagram: Buffer): void {
    const { session, side } = socket.binding as { session: RelaySession; side: Side };
    if (session.exhausted) return;
    if (datagram.length > this.#limits.maxDatagramBytes) {
      socket.ws.close(RELAY_CLOSE_CODES.tooLarge, `datagram over ${this.#limits.maxDatagramBytes} bytes`);
      return;
    }
    session.bytes += datagram.length;
    if (session.bytes > this.#limits.sessionMaxBytes) {
      this.#exhaust(session);
      return;
    }
    if (!session.bucket.take(datagram.length)) {
      this.#counters.droppedRate++;
      return;
    }
    const to = otherSide(session, side).socket?.ws;
    if (!to || to.readyState !== WebSocket.OPEN) {
      this.#counters.droppedNoPeer++;
      return;
    }
    if (to.bufferedAmount > this.#limits.maxBufferedBytes) {
      this.#counters.droppedBackpressure++;
      return;
    }
    this.#corker.cork(to);
    to.send(datagram, BINARY);
    this.#counters.datagramsForwarded++;
    this.#counters.bytesForwarded += datagram.length;
  }

  #exhaust(session: RelaySession): void {
    session.exhausted = true;
    this.#log.warn({ session_id: session.id, bytes: session.bytes }, 'relay session reached its byte cap');
    for (const side of session.sides) {
      side.socket?.ws.close(RELAY_CLOSE_CODES.sessionBytesExhausted, 'session byte cap reached');
    }
  }

  #onClose(socket: RelaySocket): void {
    clearTimeout(socket.bindTimer);
    this.#sockets.delete(socket);
    const binding = socket.binding;
    if (!binding) {
      this.#decrementUnbound(socket.remote);
      return;
    }
    const { session, side } = binding;
    if (side.socket !== socket) return; // Replaced: the newer socket holds the side.
    side.socket = undefined;
    const agentSessions = this.#agentSessions.get(side.agentId);
    agentSessions?.delete(session.id);
    if (agentSessions?.size === 0) this.#agentSessions.delete(side.agentId);
    const other = otherSide(session, side).socket;
    if (other) this.#sendText(other, { type: 'relay.peer', state: 'gone' });
    this.#log.info({ session_id: session.id, agent_id: side.agentId }, 'relay unbound');
  }

  /** Terminates sockets that stayed over the buffer cap too long; forgets empty expired sessions. */
  #sweepSockets(): void {
    const now = performance.now();
    for (const socket of this.#sockets) {
      if (!socket.binding) continue;
      if (socket.ws.bufferedAmount <= this.#limits.maxBufferedBytes) {
        socket.stalledSince = undefined;
        continue;
      }
      socket.stalledSince ??= now;
      if (now - socket.stalledSince >= this.#limits.stalledTimeoutMs) {
        this.#counters.stalledTerminated++;
        this.#log.warn(
          { session_id: socket.binding.session.id, agent_id: socket.binding.side.agentId },
          'relay socket does not read: terminated',
        );
        socket.ws.terminate();
      }
    }
    const wallNow = Date.now();
    for (const [id, session] of this.#sessions) {
      if (!session.sides[0].socket && !session.sides[1].socket && wallNow >= session.expiresAt) {
        this.#sessions.delete(id);
      }
    }
  }

  #ping(): void {
    for (const socket of this.#sockets) {
      if (!socket.binding) continue;
      if (!socket.alive) {
        socket.ws.terminate();
        continue;
      }
      socket.alive = false;
      socket.ws.ping();
    }
  }

  #protocolError(socket: RelaySocket, reason: string): void {
    this.#log.debug({ remote: socket.remote, reason }, 'relay protocol error');
    socket.ws.close(RELAY_CLOSE_CODES.protocolError, reason);
  }

  #refuse(socket: RelaySocket, code: RelayErrorCode, message: string): void {
    clearTimeout(socket.bindTimer);
    this.#counters.refusedBinds++;
    this.#log.info({ remote: socket.remote, code }, 'relay bind refused');
    this.#sendText(socket, { type: 'relay.error', code, message });
    socket.ws.close(RELAY_ERROR_CLOSE_CODES[code], code);
  }

  #sendText(socket: RelaySocket, message: RelayServerMessage): void {
    if (socket.ws.readyState === WebSocket.OPEN) socket.ws.send(JSON.stringify(message));
  }

  #decrementUnbound(remote: string): void {
    const count = (this.#unboundByAddress.get(remote) ?? 1) - 1;
    if (count > 0) this.#unboundByAddress.set(remote, count);
    else this.#unboundByAddress.delete(remote);
  }
}

/** The side of `session` the grant binds, or undefined when the grant names other agents. */
function sideOf(session: RelaySession, grant: RelayGrant): Side | undefined {
  const [first, second] = session.sides;
  if (grant.agentId === first.agentId && grant.peerId === second.agentId) return first;
  if (grant.agentId === second.agentId && grant.peerId === first.agentId) return second;
  return undefined;
}

function otherSide(session: RelaySession, side: Side): Side {
  return session.sides[0] === side ? session.sides[1] : session.sides[0];
}

/** Closes with 1001 and waits for the close, terminating a socket that does not answer in time. */
function closeWithin(ws: WebSocket, timeoutMs: number): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => ws.terminate(), timeoutMs);
    ws.once('close', () => {
      clearTimeout(force);
      resolve();
    });
    ws.close(RELAY_CLOSE_CODES.goingAway, 'relay shutting down');
  });
}
