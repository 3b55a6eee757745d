import type { QuicOptions } from './options.js';

/**
 * Messages between the public API (main thread) and the driver (worker thread or inline).
 * Both directions are sent as batches, one per event-loop turn, with stream bytes as transferred
 * ArrayBuffers (received ones may wait a millisecond for more while the peer streams, see
 * driver/outbox.ts); `h` is the driver's connection handle, `sid` the QUIC stream id.
 */
export interface DriverStartOptions {
  host: string;
  port: number;
  keyPem: string;
  certPem: string;
  options: QuicOptions;
}

export interface RemoteAddress {
  address: string;
  port: number;
}

/** How to reach a peer of a brokered session: probe its candidates, and keep a relay in reserve. */
export interface PunchSpec {
  sessionId: string;
  /** The probe key (see paths/probe-key.ts), base64. */
  key: string;
  /** Where the peer may be reached: its host and server-reflexive addresses. */
  candidates: RemoteAddress[];
  relay?: { url: string; grant: string };
  /**
   * STUN servers to ask again for this socket's public address when the direct path is lost, or
   * when the session starts on the relay, to trickle it to the peer over the relay (see paths/trickle.ts).
   */
  stunServers?: RemoteAddress[];
  /** Use the relay as soon as it is up instead of giving probes a head start (both NATs map per destination). */
  preferRelay: boolean;
}

export type PathKind = 'direct' | 'relay';

/** Which path carries a session's packets now. */
export interface PathInfo {
  sessionId: string;
  kind: PathKind;
  /** The peer's address on a direct path. */
  remote: RemoteAddress | null;
  /** On the relay because the direct path to this address went silent. */
  lost?: RemoteAddress;
}

export type DriverCommand =
  | { op: 'connect'; req: number; host: string; port: number; fingerprint: string | null }
  | { op: 'stun'; req: number; servers: RemoteAddress[] }
  | { op: 'punch'; req: number; spec: PunchSpec }
  | { op: 'unpunch'; sessionId: string }
  | { op: 'write'; h: number; sid: number; data: ArrayBuffer; len: number; fin: boolean }
  | { op: 'end'; h: number; sid: number }
  | { op: 'credit'; h: number; sid: number; n: number }
  | { op: 'abort'; h: number; sid: number; code: number }
  | { op: 'close'; h: number; code: number; reason: string }
  | { op: 'stats'; req: number; h: number | null }
  | { op: 'shutdown'; req: number };

export interface ConnectionCloseInfo {
  code: number;
  reason: string;
  byPeer: boolean;
  /** Set when the close was not a graceful application close (timeout, transport or TLS error). */
  error?: string;
}

export type DriverEvent =
  | { ev: 'listening'; address: string; port: number }
  | { ev: 'startFailed'; error: string }
  | { ev: 'connected'; req: number; h: number; remote: RemoteAddress; peerFingerprint: string }
  | { ev: 'connectFailed'; req: number; error: string; expected?: string; actual?: string }
  /** Server-reflexive addresses, one per server asked (null: no answer). */
  | { ev: 'stun'; req: number; mapped: Array<RemoteAddress | null> }
  /** The session has a path; QUIC reaches the peer at `mapped` whatever the path. */
  | { ev: 'punched'; req: number; mapped: RemoteAddress; path: PathInfo }
  | { ev: 'punchFailed'; req: number; error: string }
  /** A session's path changed (a direct path took over from the relay, or the relay went away). */
  | { ev: 'path'; path: PathInfo }
  | { ev: 'accepted'; h: number; remote: RemoteAddress; peerFingerprint: string }
  /** quiche followed the peer of a connection to a new address (connection migration, NAT rebinding). */
  | { ev: 'migrated'; h: number; from: RemoteAddress; to: RemoteAddress }
  | { ev: 'stream'; h: number; sid: number }
  | { ev: 'data'; h: number; sid: number; data: ArrayBuffer }
  | { ev: 'fin'; h: number; sid: number }
  | { ev: 'ack'; h: number; sid: number; n: number }
  | { ev: 'reset'; h: number; sid: number; code: number }
  | { ev: 'stopped'; h: number; sid: number; code: number }
  | { ev: 'closed'; h: number; info: ConnectionCloseInfo }
  | { ev: 'stats'; req: number; stats: ConnectionStats | EndpointStats | null }
  | { ev: 'shutdownDone'; req: number }
  /** Write buffers quiche has fully taken, handed back for reuse (see WRITE_BUFFER_SIZE). */
  | { ev: 'recycle'; buffers: ArrayBuffer[] };

/** Per-connection figures from quiche. */
export interface ConnectionStats {
  rttMs: number;
  cwnd: number;
  sentPackets: number;
  recvPackets: number;
  lostPackets: number;
  retransmittedPackets: number;
  sentBytes: number;
  recvBytes: number;
  lostBytes: number;
  deliveryRate: number;
  pmtu: number;
}

export interface EndpointStats {
  connections: number;
  datagramsIn: number;
  datagramsOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Datagrams that were not QUIC, were for no known connection, or failed to parse. */
  droppedDatagrams: number;
  retriesSent: number;
  /** Hole-punching probes dropped: unknown session, bad MAC, replayed or over the rate. */
  droppedProbes: number;
  /** New connections turned away because of maxIncomingConnections / maxIncomingPerAddress. */
  refusedConnections: number;
  udp: UdpIoStats;
}

/** How the endpoint's datagrams leave and arrive (see @mesh-agent/udp-batch). */
export interface UdpIoStats {
  /** 'gso': trains of datagrams per sendmsg; 'sendmmsg': several datagrams per call; 'dgram': one each. */
  path: 'gso' | 'sendmmsg' | 'dgram';
  /** Why not 'gso' (the addon is missing, disabled, or the kernel refused GSO), else null. */
  whyNotGso: string | null;
  /** Reads coalesce bursts (UDP GRO). */
  gro: boolean;
  /** Datagrams sent through batched calls, those calls, and datagrams sent one by one by node:dgram. */
  batched: number;
  sendCalls: number;
  handedOff: number;
}

/**
 * Stream writes cross to the driver in pooled buffers of this size, which the driver hands back
 * once quiche has copied them: a long transfer then allocates no new memory on the send path.
 */
export const WRITE_BUFFER_SIZE = 256 * 1024;

/** Bytes a stream's reader may have in flight to the main thread before it must return credit. */
export const STREAM_RECV_CREDIT = 1024 * 1024;

/** Why a punch ended when this agent closed the session itself: no path was wanted any more. */
export const PUNCH_CLOSED = 'session closed';
