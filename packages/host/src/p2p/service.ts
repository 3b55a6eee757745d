import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HostHooks } from '../hooks/hooks.js';
import { derivedAgentId } from '../identity/agent-id.js';
import type { Logger } from '../log/logger.js';
import type { QuicConnection, QuicEndpoint } from '../quic/index.js';
import type { PathKind } from '../quic/protocol.js';
import type { RedeemResult, SessionGrant, TokenCache } from '../tokens/token-cache.js';
import { withTimeout } from '../util/timeout.js';
import { FrameChannel } from '../wire/channel.js';
import { isWireError, type WireErrorCode } from '../wire/errors.js';
import type { MessageRegistry } from '../wire/registry.js';
import { CLOSE, type HelloClaim, receiveHello, sendHello } from './handshake.js';
import { STREAM_ACCEPT, STREAM_OPEN, STREAM_REJECT } from './messages.js';
import { PeerConnection } from './peer-connection.js';
import type { PeerInfo, StreamOpenHeader } from './types.js';

export interface P2PServiceOptions {
  endpoint: QuicEndpoint;
  tokens: TokenCache;
  registry: MessageRegistry;
  hooks: HostHooks;
  agentId: string;
  log: Logger;
  /** Waits for a session the control plane has announced but whose event may still be in flight. */
  awaitSession(sessionId: string, ms: number): Promise<void>;
  /** Where to dial a session's peer (its addresses, loopback, or a punched path's mapped address). */
  route(grant: SessionGrant): Promise<Array<{ address: string; port: number }>>;
  /** Which path carries a session's connection now. */
  pathOf(sessionId: string): PathKind;
  limits: P2PLimits;
  /** Stream types this host serves to peers (a one-off command serves only what it needs). */
  serves(streamType: string): boolean;
}

/** What one authenticated peer may hold open (config `p2p`). */
export interface P2PLimits {
  /** A stream that has not said what it is (STREAM_OPEN) after this long is closed. */
  streamOpenTimeoutMs: number;
  /** Streams a peer may have open on one connection, opened ones and those still to say what they are. */
  maxStreamsPerPeer: number;
}

/** Wire errors that show the peer is broken or hostile, as opposed to a stream that merely ended. */
const PROTOCOL_ERRORS = new Set<WireErrorCode>([
  'FRAME_TOO_LARGE',
  'BAD_FRAME',
  'BAD_HEADER',
  'UNKNOWN_TYPE',
  'INVALID_MESSAGE',
  'UNEXPECTED_TYPE',
]);

/**
 * Who the peer is: the agent id a grant pins together with its certificate (the control plane
 * checked that key at hello; a direct grant may pin both too), else, in direct mode where nobody
 * vouches, the id derived from the certificate the peer proved it holds. The peer's own word
 * (P2P_HELLO, P2P_OK) never names it.
 */
function peerIdentity(grant: SessionGrant, conn: QuicConnection): string {
  const vouched = grant.peerId !== undefined && grant.peerFingerprint !== undefined;
  return vouched ? grant.peerId! : derivedAgentId(conn.peerFingerprint);
}

/** How long a responder waits for a `p2p.session` that races the initiator's dial. */
const SESSION_RACE_MS = 3_000;

/**
 * The data plane above QUIC: the P2P handshake in both roles, then dispatch of every incoming
 * stream to the plugin that registered its stream type.
 */
export class P2PService {
  private readonly peers = new Set<PeerConnection>();
  private activeStreams = 0;

  constructor(private readonly opts: P2PServiceOptions) {
    opts.endpoint.on('connection', (conn: QuicConnection) => {
      this.accept(conn).catch((error: Error) => {
        opts.log.warn({ remote: conn.remote, err: error.message }, 'incoming connection failed');
        void conn.close(CLOSE.protocol, error.message.slice(0, 200)).catch(() => {});
      });
    });
  }

  /** Dials the peer of an initiator grant, trying its addresses in order. */
  async dial(grant: SessionGrant): Promise<PeerConnection> {
    if (!grant.peerFingerprint)
      throw new Error('refusing to dial a peer without a pinned certificate fingerprint');
    const targets = await this.opts.route(grant);
    if (targets.length === 0) throw new Error(`the peer ${grant.peerId ?? ''} advertised no address`);
    let lastError: Error | undefined;
    for (const { address, port } of targets) {
      let conn: QuicConnection | undefined;
      try {
        conn = await this.opts.endpoint.connect({
          host: address,
          port,
          expectedFingerprint: grant.peerFingerprint,
        });
        const peerAgentId = await sendHello(
          conn,
          { sessionId: grant.sessionId, token: grant.token, agentId: this.opts.agentId },
          this.opts.registry,
        );
        if (grant.peerId !== undefined && peerAgentId !== grant.peerId) {
          throw new Error(`expected agent ${grant.peerId} but ${peerAgentId} answered`);
        }
        return this.adopt(
          conn,
          {
            agentId: peerIdentity(grant, conn),
            fingerprint: conn.peerFingerprint,
            address,
            port,
            sessionId: grant.sessionId,
          },
          grant.streamType,
        );
      } catch (error) {
        lastError = error as Error;
        if (conn) void conn.close(CLOSE.protocol, 'handshake failed').catch(() => {});
        // A fingerprint mismatch or a deny will not get better at another address.
        if (
          (error as Error).name === 'FingerprintMismatchError' ||
          (error as Error).name === 'HandshakeDeniedError'
        )
          break;
      }
    }
    throw lastError ?? new Error('no address to dial');
  }

  /** A live connection to the agent whose session covers `streamType`, to reuse. */
  find(agentId: string, streamType: string): PeerConnection | undefined {
    for (const peer of this.peers) if (peer.peer.agentId === agentId && peer.grants(streamType)) return peer;
    return undefined;
  }

  connections(): PeerInfo[] {
    return [...this.peers].map((p) => p.peer);
  }

  peerConnections(): ReadonlySet<PeerConnection> {
    return this.peers;
  }

  get streamCount(): number {
    return this.activeStreams;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.peers].map((p) => p.close(CLOSE.shutdown, 'agent shutting down')));
  }

  private async accept(conn: QuicConnection): Promise<void> {
    const verify = async (claim: HelloClaim): Promise<RedeemResult> => {
      const redeem = () => this.opts.tokens.redeem({ ...claim, fingerprint: conn.peerFingerprint });
      const first = redeem();
      if (first.ok || first.reason !== 'unknown') return first;
      await this.opts.awaitSession(claim.sessionId, SESSION_RACE_MS).catch(() => {});
      return redeem();
    };
    const { claim, result } = await receiveHello(conn, this.opts.registry, verify, this.opts.agentId);
    if (!result.ok) {
      // Logged without the token: the session id and the reason are enough to investigate.
      this.opts.log.warn(
        { sessionId: claim.sessionId, agentId: claim.agentId, reason: result.reason },
        'P2P session denied',
      );
      // Give the peer a moment to read the deny before the connection goes.
      await Promise.race([once(conn, 'close'), sleep(1_000)]);
      await conn.close(CLOSE.denied, `session denied: ${result.reason}`).catch(() => {});
      return;
    }
    const { grant } = result;
    const peer = this.adopt(
      conn,
      {
        agentId: peerIdentity(grant, conn),
        fingerprint: conn.peerFingerprint,
        address: conn.remote.address,
        port: conn.remote.port,
        sessionId: claim.sessionId,
      },
      grant.streamType,
    );
    // On a session we asked for, the peer is the one that serves: it has nothing to open here.
    const opensStreams = grant.role === 'responder';
    let streams = 0;
    conn.on('stream', (stream: Duplex) => {
      if (!opensStreams || streams >= this.opts.limits.maxStreamsPerPeer) {
        this.opts.log.warn(
          { peer: peer.peer.agentId, streams, role: grant.role },
          opensStreams ? 'too many streams: reset one' : 'stream on a session this agent initiated: reset',
        );
        stream.destroy();
        return;
      }
      streams++;
      const channel = new FrameChannel(stream, { registry: this.opts.registry });
      this.dispatch(peer, channel)
        .catch((error: Error) => {
          // A stream that failed (or never said what it is) is closed, never left open.
          channel.destroy();
          this.opts.log.warn({ peer: peer.peer.agentId, err: error.message }, 'stream failed');
          // Garbage, oversized or unknown frames mean a broken or hostile peer: drop the whole
          // connection (other peers' connections are untouched).
          if (isWireError(error) && PROTOCOL_ERRORS.has(error.code)) {
            void peer.close(CLOSE.protocol, `protocol error: ${error.message}`.slice(0, 200)).catch(() => {});
          }
        })
        .finally(() => streams--);
    });
  }

  private adopt(conn: QuicConnection, info: PeerInfo, streamType: string | undefined): PeerConnection {
    const peer = new PeerConnection(conn, info, this.opts.registry, this.opts.pathOf, streamType);
    this.peers.add(peer);
    this.opts.log.info({ peer: info.agentId, address: info.address, port: info.port }, 'peer connected');
    this.opts.hooks.peerConnected.call(info);
    conn.once('close', (event: { reason?: string; error?: Error }) => {
      this.peers.delete(peer);
      const reason = event?.error?.message ?? event?.reason ?? 'closed';
      this.opts.log.info({ peer: info.agentId, reason }, 'peer disconnected');
      this.opts.hooks.peerDisconnected.call(info, reason);
    });
    return peer;
  }

  private async dispatch(peer: PeerConnection, channel: FrameChannel): Promise<void> {
    const { streamOpenTimeoutMs } = this.opts.limits;
    const frame = await withTimeout(
      channel.next([STREAM_OPEN]),
      streamOpenTimeoutMs,
      () => new Error(`no STREAM_OPEN within ${streamOpenTimeoutMs} ms`),
    );
    const open = frame.header as StreamOpenHeader;
    const type = open.stream_type;
    const hook = this.opts.hooks.stream.get(type);
    const refusal = !peer.grants(type)
      ? `the session was granted for "${peer.streamType}" streams, not "${type}"`
      : !hook?.isUsed() || !this.opts.serves(type)
        ? `no handler for stream type "${type}"`
        : undefined;
    if (refusal !== undefined || !hook) {
      await channel.send({ type: STREAM_REJECT, reason: refusal ?? 'no handler' });
      await channel.end();
      return;
    }
    await channel.send({ type: STREAM_ACCEPT });
    this.activeStreams++;
    try {
      await hook.promise({ peer: peer.peer, open, channel });
    } catch (error) {
      channel.destroy(error as Error);
      throw error;
    } finally {
      this.activeStreams--;
    }
  }
}
