import { once } from 'node:events';
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
import { CLOSE, HANDSHAKE_TIMEOUT_MS, type HelloClaim, receiveHello, sendHello } from './handshake.js';
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
        return this.adopt(conn, {
          agentId: peerIdentity(grant, conn),
          fingerprint: conn.peerFingerprint,
          address,
          port,
          sessionId: grant.sessionId,
        });
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

  /** A live connection to the agent, to reuse for more streams. */
  find(agentId: string): PeerConnection | undefined {
    for (const peer of this.peers) if (peer.peer.agentId === agentId) return peer;
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
    const peer = this.adopt(conn, {
      agentId: peerIdentity(result.grant, conn),
      fingerprint: conn.peerFingerprint,
      address: conn.remote.address,
      port: conn.remote.port,
      sessionId: claim.sessionId,
    });
    conn.on('stream', (stream) => {
      this.dispatch(peer, new FrameChannel(stream, { registry: this.opts.registry })).catch(
        (error: Error) => {
          this.opts.log.warn({ peer: peer.peer.agentId, err: error.message }, 'stream failed');
          // Garbage, oversized or unknown frames mean a broken or hostile peer: drop the whole
          // connection (other peers' connections are untouched).
          if (isWireError(error) && PROTOCOL_ERRORS.has(error.code)) {
            void peer.close(CLOSE.protocol, `protocol error: ${error.message}`.slice(0, 200)).catch(() => {});
          }
        },
      );
    });
  }

  private adopt(conn: QuicConnection, info: PeerInfo): PeerConnection {
    const peer = new PeerConnection(conn, info, this.opts.registry, this.opts.pathOf);
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
    const frame = await withTimeout(
      channel.next([STREAM_OPEN]),
      HANDSHAKE_TIMEOUT_MS,
      () => new Error('no STREAM_OPEN'),
    );
    const open = frame.header as StreamOpenHeader;
    const hook = this.opts.hooks.stream.get(open.stream_type);
    if (!hook?.isUsed()) {
      await channel.send({ type: STREAM_REJECT, reason: `no handler for stream type "${open.stream_type}"` });
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
