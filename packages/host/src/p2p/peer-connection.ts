import type { QuicConnection } from '../quic/index.js';
import type { PathKind } from '../quic/protocol.js';
import { withTimeout } from '../util/timeout.js';
import { FrameChannel } from '../wire/channel.js';
import type { MessageRegistry } from '../wire/registry.js';
import { StreamRejectedError } from './errors.js';
import { HANDSHAKE_TIMEOUT_MS } from './handshake.js';
import { STREAM_ACCEPT, STREAM_OPEN, STREAM_REJECT } from './messages.js';
import type { PeerInfo } from './types.js';

/** Which path carries a connection and how long its round trip takes now. */
export interface PeerRoute {
  path: PathKind;
  rttMs: number | null;
}

/** An authenticated data-plane connection to one peer; every stream starts with STREAM_OPEN. */
export class PeerConnection {
  constructor(
    readonly quic: QuicConnection,
    readonly peer: PeerInfo,
    private readonly registry: MessageRegistry,
    private readonly pathOf: (sessionId: string) => PathKind,
    /** What the session was granted for: streams of another type are refused (undefined: any, direct mode). */
    readonly streamType?: string,
  ) {}

  /** The session covers streams of `streamType`. */
  grants(streamType: string): boolean {
    return this.streamType === undefined || this.streamType === streamType;
  }

  /** `direct` or `relay`, and QUIC's smoothed RTT (null when the driver does not answer in time). */
  async route(): Promise<PeerRoute> {
    const stats = await withTimeout(this.quic.stats(), 2_000).catch(() => null);
    return {
      path: this.pathOf(this.peer.sessionId),
      rttMs: stats ? Math.round(stats.rttMs * 100) / 100 : null,
    };
  }

  /** Opens a stream of `streamType`; resolves once the peer accepted it, with the frame channel to use. */
  async openStream(streamType: string, fields: Record<string, unknown> = {}): Promise<FrameChannel> {
    const channel = new FrameChannel(this.quic.openStream(), { registry: this.registry });
    try {
      await channel.send({ ...fields, type: STREAM_OPEN, stream_type: streamType });
      const reply = await withTimeout(
        channel.next([STREAM_ACCEPT, STREAM_REJECT]),
        HANDSHAKE_TIMEOUT_MS,
        () => new Error(`the peer did not answer a ${streamType} stream within ${HANDSHAKE_TIMEOUT_MS} ms`),
      );
      if (reply.header.type === STREAM_REJECT)
        throw new StreamRejectedError(streamType, String(reply.header.reason));
      return channel;
    } catch (error) {
      channel.destroy();
      throw error;
    }
  }

  close(code = 0, reason = 'done'): Promise<void> {
    return this.quic.close(code, reason);
  }
}
