import type { Connection, Host, RecvInfo } from '@matrixai/quic/native/index.js';
import type { DirectLiveness } from '../paths/direct-liveness.js';
import type { RemoteAddress } from '../protocol.js';
import { STREAM_RECV_CREDIT } from '../protocol.js';

/**
 * Up to this many streams on a connection, the driver asks quiche about each stream it knows
 * (well under a microsecond per call) rather than walking quiche's readable / writable sets
 * (about 10 µs per walk through the binding's iterator, twice per received packet).
 */
const FEW_STREAMS = 16;

/** The driver's side of one QUIC stream: writes waiting for quiche, and received bytes waiting for the main thread. */
export class DriverStream {
  readonly sendQueue: Uint8Array[] = [];
  sendOffset = 0;
  finQueued = false;
  sendDone = false;
  recvDone = false;
  /** quiche has this stream (the peer opened it, or quiche took some of our bytes). */
  known = false;
  credit = STREAM_RECV_CREDIT;
  /** Received bytes not yet handed to the main thread: quiche writes them here directly. */
  inbox: Buffer | null = null;
  inboxLength = 0;
  constructor(readonly sid: number) {}
}

/** The driver's side of one quiche connection: its streams, what happened in this turn, its timers. */
export class DriverConnection {
  readonly streams = new Map<number, DriverStream>();
  readonly pendingSend = new Set<DriverStream>();
  /** Stream ids we aborted; quiche may still list them as readable for a while. */
  readonly aborted = new Set<number>();
  readonly recvInfo: RecvInfo;
  established = false;
  /** Packets arrived since the last look at the streams: data, FIN, RESET or STOP_SENDING may be new. */
  inbound = false;
  /** A reader returned credit: quiche may hold bytes we stopped reading for lack of it. */
  creditAdded = false;
  /** Datagrams received since packets were last built for this connection. */
  datagramsSinceSend = 0;
  lastDatagramAt = 0;
  /** The last datagram came right after the one before (see STREAMING_GAP_MS in outbox.ts). */
  streaming = false;
  /** Stream bytes went to the reader in this turn. */
  delivered = false;
  /** We gave quiche something to send (stream bytes, a FIN, a reset, a close, a probe) in this turn. */
  outbound = false;
  /** Pending delayed ACK (see `ConnectionTimers.mayDelayAck`). */
  ackTimer: NodeJS.Timeout | null = null;
  /** The main thread knows this connection (connected / accepted was delivered). */
  reported = false;
  peerFingerprint = '';
  timer: NodeJS.Timeout | null = null;
  timerAt = 0;
  keepAlive: NodeJS.Timeout | null = null;
  handshakeTimer: NodeJS.Timeout | null = null;
  /** A direct connection's check that its peer still answers (see `QuicOptions.deadPeerMs`); null: none. */
  liveness: DirectLiveness | null = null;
  gone = false;

  constructor(
    readonly handle: number,
    readonly q: Connection,
    readonly role: 'client' | 'server',
    readonly key: string,
    /** Where the peer is: moved by `ConnectionTable.move` when quiche follows it to a new address. */
    public remote: RemoteAddress,
    local: Host,
    public connectReq: number | null,
    readonly expectedFingerprint: string | null,
  ) {
    this.recvInfo = { from: { host: remote.address, port: remote.port }, to: local };
  }

  isPeerBidi(sid: number): boolean {
    return (sid & 2) === 0 && (sid & 1) === (this.role === 'client' ? 1 : 0);
  }

  /** Few enough streams to ask quiche about each one (see FEW_STREAMS). */
  hasFewStreams(): boolean {
    return this.streams.size <= FEW_STREAMS;
  }

  forgetIfDone(stream: DriverStream): void {
    if (stream.recvDone && stream.sendDone) this.streams.delete(stream.sid);
  }

  /**
   * We gave quiche something the peer must acknowledge (stream bytes, credit, a reset, a PING), or
   * the peer is mid-stream and owes us the rest: its silence from now on counts. Not per packet:
   * our ACKs owe us nothing, and counting them would make two idle peers probe each other forever.
   */
  expectReply(): void {
    this.liveness?.sent();
  }

  stopTimers(): void {
    this.liveness?.reset();
    if (this.timer) clearTimeout(this.timer);
    if (this.keepAlive) clearInterval(this.keepAlive);
    if (this.ackTimer) clearTimeout(this.ackTimer);
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
  }
}
