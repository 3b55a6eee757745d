import type { FrameChannel } from '../wire/channel.js';

/** The remote agent of an authenticated data-plane connection. */
export interface PeerInfo {
  agentId: string;
  /** SHA-256 of the peer's certificate, checked against the pinned value before this is built. */
  fingerprint: string;
  address: string;
  port: number;
  sessionId: string;
}

/** The header every data-plane stream starts with. Plugins add their own fields. */
export interface StreamOpenHeader {
  type: 'STREAM_OPEN';
  stream_type: string;
  [field: string]: unknown;
}

/** A stream a peer opened, handed to the plugin that registered its stream type. */
export interface IncomingStream {
  readonly peer: PeerInfo;
  readonly open: StreamOpenHeader;
  readonly channel: FrameChannel;
}
