import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import type { QuicConnection } from '../quic/index.js';
import type { RedeemResult } from '../tokens/token-cache.js';
import { withTimeout } from '../util/timeout.js';
import { FrameChannel } from '../wire/channel.js';
import type { MessageRegistry } from '../wire/registry.js';
import { HandshakeDeniedError } from './errors.js';
import { P2P_DENY, P2P_HELLO, P2P_OK } from './messages.js';

export const HANDSHAKE_TIMEOUT_MS = 10_000;
/**
 * Largest handshake frame: a P2P_HELLO is a few hundred bytes. An unauthenticated peer may make
 * the responder hold no more than this per connection (instead of a data frame's 1 MiB).
 */
export const HANDSHAKE_MAX_FRAME = 4 * 1024;
/** Application close codes the host uses on the data plane. */
export const CLOSE = { normal: 0, denied: 0x101, protocol: 0x102, shutdown: 0x103 } as const;

export interface HelloClaim {
  sessionId: string;
  token: string;
  agentId: string;
}

/** Initiator: P2P_HELLO on the first stream, then P2P_OK or a HandshakeDeniedError. */
export async function sendHello(
  conn: QuicConnection,
  claim: HelloClaim,
  registry: MessageRegistry,
): Promise<string> {
  const channel = new FrameChannel(conn.openStream(), { registry });
  try {
    await channel.send({
      type: P2P_HELLO,
      session_id: claim.sessionId,
      token: claim.token,
      agent_id: claim.agentId,
    });
    const reply = await withTimeout(
      channel.next([P2P_OK, P2P_DENY]),
      HANDSHAKE_TIMEOUT_MS,
      () => new Error(`no handshake answer within ${HANDSHAKE_TIMEOUT_MS} ms`),
    );
    if (reply.header.type === P2P_DENY) throw new HandshakeDeniedError(String(reply.header.reason));
    await channel.end();
    return String(reply.header.agent_id);
  } catch (error) {
    channel.destroy();
    throw error;
  }
}

/**
 * Responder: the first stream must carry a P2P_HELLO that `verify` accepts. Any other stream
 * before that, garbage, or silence closes the connection; so does a deny, after telling why.
 */
export async function receiveHello(
  conn: QuicConnection,
  registry: MessageRegistry,
  verify: (hello: HelloClaim) => Promise<RedeemResult>,
  ownAgentId: string,
): Promise<{ claim: HelloClaim; result: RedeemResult }> {
  const [stream] = (await withTimeout(
    once(conn, 'stream'),
    HANDSHAKE_TIMEOUT_MS,
    () => new Error(`no handshake within ${HANDSHAKE_TIMEOUT_MS} ms`),
  )) as [Duplex];
  // A second stream before the handshake completes is a protocol violation.
  const early = () => void conn.close(CLOSE.protocol, 'stream opened before the handshake');
  conn.on('stream', early);
  const channel = new FrameChannel(stream, { registry, maxFrame: HANDSHAKE_MAX_FRAME });
  try {
    const hello = await withTimeout(
      channel.next([P2P_HELLO]),
      HANDSHAKE_TIMEOUT_MS,
      () => new Error('no P2P_HELLO'),
    );
    const claim = {
      sessionId: String(hello.header.session_id),
      token: String(hello.header.token),
      agentId: String(hello.header.agent_id),
    };
    const result = await verify(claim);
    if (result.ok) {
      await channel.send({ type: P2P_OK, agent_id: ownAgentId });
      await channel.end();
    } else {
      await channel.send({ type: P2P_DENY, reason: result.reason }).catch(() => {});
    }
    return { claim, result };
  } finally {
    conn.off('stream', early);
  }
}
