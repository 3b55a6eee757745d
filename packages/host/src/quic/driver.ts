import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { isIP } from 'node:net';
import type { Config, Connection, Host, RecvInfo } from '@matrixai/quic/native/index.js';
import { quiche } from '@matrixai/quic/native/index.js';
import type { QuicOptions } from './options.js';
import type {
  ConnectionCloseInfo,
  ConnectionStats,
  DriverCommand,
  DriverEvent,
  DriverStartOptions,
  EndpointStats,
  RemoteAddress,
} from './protocol.js';
import { STREAM_RECV_CREDIT, WRITE_BUFFER_SIZE } from './protocol.js';
import { RetryTokens } from './retry-token.js';
import { ScavengePacer } from './scavenge-pacer.js';

/** Every connection id we issue is 20 bytes, so short-header packets are routable by bytes 1..21. */
const CID_LEN = 20;
const EMPTY = new Uint8Array(0);
const ALPN = ['mesh-agent/1'];
const SIGALGS = 'ecdsa_secp256r1_sha256:ecdsa_secp384r1_sha384:ed25519:rsa_pss_rsae_sha256:rsa_pkcs1_sha256';
/** Outgoing packets are carved from slabs: no allocation per packet, and a queued packet's bytes are never reused. */
const SLAB_SIZE = 1 << 20;
/** Bytes one connection may emit per event-loop turn before incoming ACKs get a chance to run. */
const SEND_BUDGET_BYTES = 512 * 1024;
/**
 * Up to this many streams on a connection, the driver asks quiche about each stream it knows
 * (well under a microsecond per call) rather than walking quiche's readable / writable sets
 * (about 10 µs per walk through the binding's iterator, twice per received packet).
 */
const FEW_STREAMS = 16;
/** Acknowledged write bytes that are worth a batch of their own (see `flushEvents`). */
const ACK_BATCH_BYTES = 64 * 1024;
/** Longest a write acknowledgement waits for other events. */
const ACK_FLUSH_MS = 2;
/** Longest an ACK waits for a reply to carry it (see `mayDelayAck`). */
const ACK_DELAY_MS = 1;
/** Largest stream chunk handed to the main thread at once: a stream's receive buffer. */
const RECV_CHUNK = 256 * 1024;
/**
 * Datagrams closer together than this mean the peer is streaming: received bytes then wait (up to
 * DELIVERY_HOLD_MS, or until a receive buffer is full) to cross to the main thread in fewer, larger
 * messages. Each message wakes the main thread; at 1350-byte datagrams posting them took a quarter
 * of the receiving driver's time, and holding halves their number (30 KB → 55 KB each at 40 MB/s).
 * A lone message (a keystroke, a reply) comes after a longer gap and is delivered at once.
 */
const STREAMING_GAP_MS = 0.1;
const DELIVERY_HOLD_MS = 1;
/** TLS alerts as QUIC transport error codes (0x100 + alert). */
const BAD_CERTIFICATE = 0x100 + 42;
const CERTIFICATE_REQUIRED = 0x100 + 116;

type Deliver = (events: DriverEvent[], transfer: ArrayBuffer[]) => void;

class DriverStream {
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

class DriverConnection {
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
  /** The last datagram came right after the one before (see STREAMING_GAP_MS). */
  streaming = false;
  /** Stream bytes went to the reader in this turn. */
  delivered = false;
  /** We gave quiche something to send (stream bytes, a FIN, a reset, a close, a probe) in this turn. */
  outbound = false;
  /** Pending delayed ACK (see `mayDelayAck`). */
  ackTimer: NodeJS.Timeout | null = null;
  /** The main thread knows this connection (connected / accepted was delivered). */
  reported = false;
  peerFingerprint = '';
  timer: NodeJS.Timeout | null = null;
  timerAt = 0;
  keepAlive: NodeJS.Timeout | null = null;
  handshakeTimer: NodeJS.Timeout | null = null;
  gone = false;

  constructor(
    readonly handle: number,
    readonly q: Connection,
    readonly role: 'client' | 'server',
    readonly key: string,
    readonly remote: RemoteAddress,
    local: Host,
    public connectReq: number | null,
    readonly expectedFingerprint: string | null,
  ) {
    this.recvInfo = { from: { host: remote.address, port: remote.port }, to: local };
  }

  isPeerBidi(sid: number): boolean {
    return (sid & 2) === 0 && (sid & 1) === (this.role === 'client' ? 1 : 0);
  }
}

const cidKey = (cid: Uint8Array): string =>
  Buffer.from(cid.buffer, cid.byteOffset, cid.byteLength).toString('latin1');

/** quiche reports failures as `Name(code)` error messages. */
function quicheError(error: unknown): { name: string; code: number | null } {
  const message = error instanceof Error ? error.message : String(error);
  const match = /^(\w+)(?:\((\d+)\))?/.exec(message);
  return { name: match?.[1] ?? message, code: match?.[2] !== undefined ? Number(match[2]) : null };
}

function describeClose(q: Connection): ConnectionCloseInfo {
  const peer = q.peerError();
  const local = q.localError();
  const err = peer ?? local;
  if (err) {
    const reason = Buffer.from(err.reason).toString('utf8');
    const info: ConnectionCloseInfo = { code: err.errorCode, reason, byPeer: peer !== null };
    if (!err.isApp && err.errorCode !== 0)
      info.error = `transport error 0x${err.errorCode.toString(16)}${reason ? ` (${reason})` : ''}`;
    return info;
  }
  if (q.isTimedOut()) return { code: 0, reason: '', byPeer: false, error: 'idle timeout' };
  return { code: 0, reason: '', byPeer: false, error: 'connection closed' };
}

/**
 * The QUIC engine: one UDP socket, quiche connections keyed by connection id, their timers, and a
 * send path that drains quiche into the socket once per event-loop turn. It talks to the public API
 * only through `DriverCommand` / `DriverEvent` batches, so it can run on a worker thread or inline.
 */
export class QuicDriver {
  private socket: dgram.Socket | null = null;
  private local: Host = { host: '0.0.0.0', port: 0 };
  private config: Config | null = null;
  private loopbackConfig: Config | null = null;
  private options: QuicOptions | null = null;
  private readonly byKey = new Map<string, DriverConnection>();
  private readonly byHandle = new Map<number, DriverConnection>();
  private nextHandle = 1;
  private readonly dirty = new Set<DriverConnection>();
  private pumpScheduled = false;
  private events: DriverEvent[] = [];
  /** 'ack' events not delivered yet: they ride with the next batch (see `flushEvents`). */
  private acks: DriverEvent[] = [];
  private ackBytes = 0;
  private ackTimer: NodeJS.Timeout | null = null;
  private transfer: ArrayBuffer[] = [];
  private recycled: ArrayBuffer[] = [];
  private readonly retryTokens = new RetryTokens();
  /** node:dgram allocates a Buffer per datagram, outside the heap: freed as they go (see ScavengePacer). */
  private readonly scavenges = new ScavengePacer();
  private slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
  private slabOffset = 0;
  /** Streams whose received bytes wait in their inbox for a larger delivery. */
  private readonly held = new Map<DriverStream, DriverConnection>();
  private holdTimer: NodeJS.Timeout | null = null;
  private closing = false;
  private readonly counters = {
    datagramsIn: 0,
    datagramsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    droppedDatagrams: 0,
    retriesSent: 0,
  };

  constructor(private readonly deliver: Deliver) {}

  async start(opts: DriverStartOptions): Promise<void> {
    try {
      this.options = opts.options;
      this.config = this.buildConfig(opts, opts.options.maxUdpPayload);
      this.loopbackConfig = this.buildConfig(opts, opts.options.loopbackUdpPayload);
      const family = isIP(opts.host);
      if (family === 0) throw new Error(`listen host must be an IP address, got '${opts.host}'`);
      const socket = dgram.createSocket({
        type: family === 6 ? 'udp6' : 'udp4',
        recvBufferSize: opts.options.socketBufferBytes,
        sendBufferSize: opts.options.socketBufferBytes,
        // Addresses are always IP literals here; a synchronous lookup lets send() go out immediately.
        lookup: (address, _options, callback) => callback(null, address, family),
      });
      socket.on('message', this.onMessage);
      // Send errors (e.g. unreachable peer) surface here; quiche's loss recovery deals with them.
      socket.on('error', () => {});
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(opts.port, opts.host, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      this.socket = socket;
      const bound = socket.address();
      this.local = { host: bound.address, port: bound.port };
      this.push({ ev: 'listening', address: bound.address, port: bound.port });
    } catch (error) {
      this.push({ ev: 'startFailed', error: error instanceof Error ? error.message : String(error) });
    }
    this.flushEvents();
  }

  /** quiche's config for a peer: loopback peers get the large datagrams a local path allows. */
  private configFor(host: string): Config | null {
    return isLoopback(host) ? this.loopbackConfig : this.config;
  }

  private buildConfig(opts: DriverStartOptions, sendPayload: number): Config {
    const o = opts.options;
    const enc = new TextEncoder();
    // verifyPeer + verifyAllowFail: request the peer's certificate but let us judge it (pinned fingerprints, no CA).
    const config = quiche.Config.withBoringSslCtx(
      true,
      true,
      null,
      [enc.encode(opts.keyPem)],
      [enc.encode(opts.certPem)],
      SIGALGS,
    );
    config.setApplicationProtos(ALPN);
    config.grease(true);
    config.setMaxIdleTimeout(o.idleTimeoutMs);
    // Accept the largest we might be sent; what we send depends on the path (configFor).
    config.setMaxRecvUdpPayloadSize(Math.max(o.maxUdpPayload, o.loopbackUdpPayload));
    config.setMaxSendUdpPayloadSize(sendPayload);
    config.setInitialMaxData(o.initialMaxData);
    config.setInitialMaxStreamDataBidiLocal(o.initialMaxStreamData);
    config.setInitialMaxStreamDataBidiRemote(o.initialMaxStreamData);
    config.setInitialMaxStreamDataUni(0);
    config.setInitialMaxStreamsBidi(o.maxConcurrentStreams);
    config.setInitialMaxStreamsUni(0);
    config.setMaxStreamWindow(o.maxStreamWindow);
    config.setMaxConnectionWindow(o.maxConnectionWindow);
    config.setCcAlgorithmName(o.congestionControl);
    config.setDisableActiveMigration(true);
    return config;
  }

  handle(commands: DriverCommand[]): void {
    for (const cmd of commands) {
      switch (cmd.op) {
        case 'connect':
          this.connect(cmd.req, cmd.host, cmd.port, cmd.fingerprint);
          break;
        case 'write':
          this.queueWrite(cmd.h, cmd.sid, new Uint8Array(cmd.data, 0, cmd.len), cmd.fin);
          break;
        case 'end':
          this.queueWrite(cmd.h, cmd.sid, null, true);
          break;
        case 'credit':
          this.addCredit(cmd.h, cmd.sid, cmd.n);
          break;
        case 'abort':
          this.abortStream(cmd.h, cmd.sid, cmd.code);
          break;
        case 'close':
          this.closeConnection(cmd.h, cmd.code, cmd.reason);
          break;
        case 'stats':
          this.push({
            ev: 'stats',
            req: cmd.req,
            stats: cmd.h === null ? this.endpointStats() : this.connectionStats(cmd.h),
          });
          break;
        case 'shutdown':
          this.shutdown(cmd.req);
          break;
      }
    }
    this.pump();
  }

  // ---- incoming datagrams -------------------------------------------------------------------

  private readonly onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
    this.counters.datagramsIn++;
    this.counters.bytesIn += msg.length;
    this.scavenges.received(msg.length);
    let conn: DriverConnection | undefined;
    const first = msg[0];
    if (first === undefined) {
      this.counters.droppedDatagrams++;
      return;
    }
    if ((first & 0x80) === 0) {
      // Short header: fixed-length DCID right after the first byte.
      conn = msg.length > CID_LEN ? this.byKey.get(msg.toString('latin1', 1, 1 + CID_LEN)) : undefined;
    } else {
      let header: ReturnType<typeof quiche.Header.fromSlice>;
      try {
        header = quiche.Header.fromSlice(msg, CID_LEN);
      } catch {
        this.counters.droppedDatagrams++;
        return;
      }
      conn = this.byKey.get(cidKey(header.dcid));
      if (!conn) {
        const accepted = this.accept(msg, rinfo, header);
        if (accepted === 'answered') return;
        conn = accepted;
      }
    }
    if (!conn) {
      this.counters.droppedDatagrams++;
      return;
    }
    const info =
      rinfo.port === conn.recvInfo.from.port && rinfo.address === conn.recvInfo.from.host
        ? conn.recvInfo
        : { from: { host: rinfo.address, port: rinfo.port }, to: this.local };
    try {
      conn.q.recv(msg, info);
    } catch {
      // An undecryptable or malformed packet; a fatal one has already closed the connection in quiche.
      this.counters.droppedDatagrams++;
    }
    conn.inbound = true;
    conn.datagramsSinceSend++;
    const now = performance.now();
    conn.streaming = now - conn.lastDatagramAt < STREAMING_GAP_MS;
    conn.lastDatagramAt = now;
    this.markDirty(conn);
  };

  /**
   * Server side of a new connection: version negotiation, stateless retry, then accept. Returns
   * 'answered' when a negotiation or retry packet went back, undefined when the packet is dropped.
   */
  private accept(
    msg: Buffer,
    rinfo: dgram.RemoteInfo,
    header: ReturnType<typeof quiche.Header.fromSlice>,
  ): DriverConnection | 'answered' | undefined {
    if (header.ty !== quiche.Type.Initial || this.closing || !this.config) return undefined;
    if (msg.length < quiche.MIN_CLIENT_INITIAL_LEN) return undefined;
    if (!quiche.versionIsSupported(header.version)) {
      const out = Buffer.allocUnsafe(quiche.MAX_DATAGRAM_SIZE);
      const n = quiche.negotiateVersion(header.scid, header.dcid, out);
      this.sendRaw(out.subarray(0, n), rinfo.port, rinfo.address);
      return 'answered';
    }
    const token = header.token;
    if (!token || token.length === 0) {
      const retryScid = randomBytes(CID_LEN);
      const newToken = this.retryTokens.mint(rinfo.address, rinfo.port, header.dcid, retryScid);
      const out = Buffer.allocUnsafe(quiche.MAX_DATAGRAM_SIZE);
      const n = quiche.retry(header.scid, header.dcid, retryScid, newToken, header.version, out);
      this.sendRaw(out.subarray(0, n), rinfo.port, rinfo.address);
      this.counters.retriesSent++;
      return 'answered';
    }
    if (header.dcid.length !== CID_LEN) return undefined;
    const odcid = this.retryTokens.validate(token, rinfo.address, rinfo.port, header.dcid);
    if (!odcid) return undefined;
    const remote = { address: rinfo.address, port: rinfo.port };
    let q: Connection;
    try {
      q = quiche.Connection.accept(
        header.dcid,
        odcid,
        this.local,
        { host: remote.address, port: remote.port },
        this.configFor(remote.address) as Config,
      );
    } catch {
      return undefined;
    }
    return this.register(q, 'server', cidKey(header.dcid), remote, null, null);
  }

  private register(
    q: Connection,
    role: 'client' | 'server',
    key: string,
    remote: RemoteAddress,
    connectReq: number | null,
    expectedFingerprint: string | null,
  ): DriverConnection {
    const conn = new DriverConnection(
      this.nextHandle++,
      q,
      role,
      key,
      remote,
      this.local,
      connectReq,
      expectedFingerprint,
    );
    this.byKey.set(key, conn);
    this.byHandle.set(conn.handle, conn);
    conn.handshakeTimer = setTimeout(() => this.handshakeTimedOut(conn), this.options!.handshakeTimeoutMs);
    return conn;
  }

  // ---- commands ----------------------------------------------------------------------------

  private connect(req: number, host: string, port: number, fingerprint: string | null): void {
    const fail = (error: string) => this.push({ ev: 'connectFailed', req, error });
    if (this.closing || !this.socket || !this.config) {
      fail('endpoint is closed');
      return;
    }
    const family = isIP(host);
    if (family === 0) {
      fail(`host must be an IP address, got '${host}'`);
      return;
    }
    if ((family === 6) !== (this.socket.address().family === 'IPv6')) {
      fail(`cannot reach ${host} from a socket bound to ${this.local.host}`);
      return;
    }
    const scid = randomBytes(CID_LEN);
    let q: Connection;
    try {
      q = quiche.Connection.connect(null, scid, this.local, { host, port }, this.configFor(host) as Config);
    } catch (error) {
      fail(error instanceof Error ? error.message : String(error));
      return;
    }
    const conn = this.register(q, 'client', cidKey(scid), { address: host, port }, req, fingerprint);
    this.markDirty(conn);
  }

  private queueWrite(h: number, sid: number, data: Uint8Array | null, fin: boolean): void {
    const conn = this.byHandle.get(h);
    if (!conn || conn.aborted.has(sid)) return;
    let stream = conn.streams.get(sid);
    if (!stream) {
      stream = new DriverStream(sid);
      conn.streams.set(sid, stream);
    }
    if (stream.sendDone) return;
    if (data && data.length > 0) stream.sendQueue.push(data);
    if (fin) stream.finQueued = true;
    conn.pendingSend.add(stream);
    this.markDirty(conn);
  }

  private addCredit(h: number, sid: number, n: number): void {
    const conn = this.byHandle.get(h);
    const stream = conn?.streams.get(sid);
    if (!conn || !stream) return;
    stream.credit += n;
    conn.creditAdded = true;
    this.markDirty(conn);
  }

  private abortStream(h: number, sid: number, code: number): void {
    const conn = this.byHandle.get(h);
    if (!conn) return;
    for (const direction of [quiche.Shutdown.Read, quiche.Shutdown.Write]) {
      try {
        conn.q.streamShutdown(sid, direction, code);
      } catch {
        // Already finished or never opened in quiche: nothing to tell the peer.
      }
    }
    const stream = conn.streams.get(sid);
    if (stream) {
      this.held.delete(stream);
      conn.pendingSend.delete(stream);
      for (const chunk of stream.sendQueue.splice(0)) this.recycle(chunk);
    }
    conn.streams.delete(sid);
    conn.aborted.add(sid);
    conn.outbound = true;
    this.markDirty(conn);
  }

  private closeConnection(h: number, code: number, reason: string): void {
    const conn = this.byHandle.get(h);
    if (!conn) return;
    try {
      conn.q.close(true, code, Buffer.from(reason, 'utf8'));
    } catch {
      // Already closing.
    }
    conn.outbound = true;
    this.markDirty(conn);
  }

  private shutdown(req: number): void {
    this.closing = true;
    for (const conn of [...this.byHandle.values()]) {
      try {
        conn.q.close(true, 0, Buffer.from('endpoint closed'));
      } catch {
        // Already closing.
      }
      this.drainSend(conn, Number.POSITIVE_INFINITY);
      this.finish(conn, { code: 0, reason: 'endpoint closed', byPeer: false });
    }
    this.socket?.close();
    this.socket = null;
    this.push({ ev: 'shutdownDone', req });
  }

  // ---- the pump: once per turn, for every connection that saw activity ----------------------

  private markDirty(conn: DriverConnection): void {
    this.dirty.add(conn);
    if (!this.pumpScheduled) {
      this.pumpScheduled = true;
      setImmediate(this.pump);
    }
  }

  private readonly pump = (): void => {
    this.pumpScheduled = false;
    if (this.dirty.size === 0) {
      this.flushEvents();
      return;
    }
    const conns = [...this.dirty];
    this.dirty.clear();
    for (const conn of conns) this.collect(conn);
    // Received bytes go to the reader before any packet is built, and the packets are built in a
    // microtask: a reply the reader writes at once (inline driver) then leaves in the same packet
    // as the ACK, instead of an ACK-only packet first, which costs both sides a syscall and a wake-up.
    if (this.events.length > 0 || this.held.size > 0) this.flushEvents();
    queueMicrotask(() => {
      for (const conn of conns) {
        if (this.mayDelayAck(conn)) conn.ackTimer ??= setTimeout(this.onAckTimer, ACK_DELAY_MS, conn);
        else this.transmit(conn);
      }
      this.flushEvents();
    });
  };

  /**
   * One datagram of stream data, and nothing of ours to send: most likely a request whose answer
   * comes within a millisecond (a keystroke and its echo). Its ACK then waits for the answer and
   * leaves in the same packet, sparing both peers a packet, a wake-up and a decryption. Anything
   * else (two or more datagrams, writes, returned credit, handshake) is answered at once, so bulk
   * transfers ACK as before. The delay stays far below the max_ack_delay we advertise (25 ms).
   */
  private mayDelayAck(conn: DriverConnection): boolean {
    return (
      (conn.delivered || conn.ackTimer !== null) &&
      conn.datagramsSinceSend === 1 &&
      !conn.outbound &&
      conn.pendingSend.size === 0 &&
      conn.established &&
      !conn.gone
    );
  }

  private readonly onAckTimer = (conn: DriverConnection): void => {
    conn.ackTimer = null;
    this.transmit(conn);
    this.flushEvents();
  };

  /** One connection's turn: what happened since the last one, then its packets. */
  private process(conn: DriverConnection): void {
    this.collect(conn);
    this.transmit(conn);
  }

  /** Streams: received bytes, queued writes, stopped senders; events for the API. */
  private collect(conn: DriverConnection): void {
    if (conn.gone) return;
    const inbound = conn.inbound;
    const read = inbound || conn.creditAdded;
    conn.inbound = false;
    conn.creditAdded = false;
    if (!conn.established && conn.q.isEstablished()) this.onEstablished(conn);
    if (!conn.reported) return;
    // Asking quiche for readable and writable streams costs a walk over them: only when it may have news.
    if (read) this.readStreams(conn);
    if (conn.pendingSend.size > 0) this.feedSends(conn);
    if (inbound) this.checkStopped(conn);
  }

  /** Packets to the socket, within this turn's budget; then the connection's next deadline. */
  private transmit(conn: DriverConnection): void {
    conn.delivered = false;
    conn.outbound = false;
    if (conn.gone) return;
    if (conn.ackTimer) {
      clearTimeout(conn.ackTimer);
      conn.ackTimer = null;
    }
    conn.datagramsSinceSend = 0;
    const q = conn.q;
    const more = this.drainSend(conn, SEND_BUDGET_BYTES);
    if (q.isClosed()) {
      this.finish(conn, describeClose(q));
      return;
    }
    if (more) this.markDirty(conn);
    this.armTimer(conn);
  }

  private onEstablished(conn: DriverConnection): void {
    conn.established = true;
    if (conn.handshakeTimer) clearTimeout(conn.handshakeTimer);
    conn.handshakeTimer = null;
    const leaf = conn.q.peerCertChain()?.[0];
    if (!leaf) {
      this.failHandshake(conn, CERTIFICATE_REQUIRED, 'peer presented no certificate');
      return;
    }
    conn.peerFingerprint = createHash('sha256').update(leaf).digest('hex');
    if (conn.role === 'client') {
      const req = conn.connectReq!;
      const expected = conn.expectedFingerprint;
      if (expected !== null && expected !== conn.peerFingerprint) {
        this.push({
          ev: 'connectFailed',
          req,
          error: 'certificate fingerprint mismatch',
          expected,
          actual: conn.peerFingerprint,
        });
        conn.connectReq = null;
        // Send our Finished first: once closing, quiche only emits CONNECTION_CLOSE, and the server
        // would never learn that the handshake completed (nor whose certificate it saw).
        this.drainSend(conn, Number.POSITIVE_INFINITY);
        this.failHandshake(conn, BAD_CERTIFICATE, 'certificate fingerprint mismatch');
        return;
      }
      conn.connectReq = null;
      this.push({
        ev: 'connected',
        req,
        h: conn.handle,
        remote: conn.remote,
        peerFingerprint: conn.peerFingerprint,
      });
    } else {
      this.push({
        ev: 'accepted',
        h: conn.handle,
        remote: conn.remote,
        peerFingerprint: conn.peerFingerprint,
      });
    }
    conn.reported = true;
    const keepAliveMs = this.options!.keepAliveMs;
    if (keepAliveMs > 0) {
      conn.keepAlive = setInterval(() => {
        conn.q.sendAckEliciting();
        conn.outbound = true;
        this.markDirty(conn);
      }, keepAliveMs);
    }
  }

  private failHandshake(conn: DriverConnection, code: number, reason: string): void {
    if (conn.connectReq !== null) {
      this.push({ ev: 'connectFailed', req: conn.connectReq, error: reason });
      conn.connectReq = null;
    }
    try {
      conn.q.close(false, code, Buffer.from(reason));
    } catch {
      // Already closing.
    }
  }

  private handshakeTimedOut(conn: DriverConnection): void {
    conn.handshakeTimer = null;
    if (conn.established || conn.gone) return;
    this.failHandshake(conn, 0x1, 'handshake timed out');
    this.process(conn);
    this.flushEvents();
  }

  private readonly onTimer = (conn: DriverConnection): void => {
    conn.timer = null;
    if (conn.gone) return;
    conn.q.onTimeout();
    this.process(conn);
    this.flushEvents();
  };

  /** Keeps the earliest deadline armed; an early wake-up is harmless (quiche ignores timers not yet due). */
  private armTimer(conn: DriverConnection): void {
    const ms = conn.q.timeout();
    if (ms === null) {
      if (conn.timer) clearTimeout(conn.timer);
      conn.timer = null;
      return;
    }
    const at = performance.now() + ms;
    if (conn.timer) {
      if (at >= conn.timerAt - 1) return;
      clearTimeout(conn.timer);
    }
    conn.timerAt = at;
    conn.timer = setTimeout(this.onTimer, ms, conn);
  }

  private finish(conn: DriverConnection, info: ConnectionCloseInfo): void {
    if (conn.gone) return;
    conn.gone = true;
    if (conn.timer) clearTimeout(conn.timer);
    if (conn.keepAlive) clearInterval(conn.keepAlive);
    if (conn.ackTimer) clearTimeout(conn.ackTimer);
    if (conn.handshakeTimer) clearTimeout(conn.handshakeTimer);
    this.byKey.delete(conn.key);
    this.byHandle.delete(conn.handle);
    this.dirty.delete(conn);
    // What arrived before the close is the reader's, ahead of the 'closed' event.
    for (const stream of conn.streams.values()) this.deliverInbox(conn, stream);
    if (conn.reported) this.push({ ev: 'closed', h: conn.handle, info });
    else if (conn.connectReq !== null) {
      this.push({
        ev: 'connectFailed',
        req: conn.connectReq,
        error: info.error ?? `connection closed (code ${info.code})`,
      });
    }
  }

  /** Writes quiche's packets to the socket; returns true when the budget ran out before quiche did. */
  private drainSend(conn: DriverConnection, budget: number): boolean {
    const socket = this.socket;
    if (!socket) return false;
    const max = isLoopback(conn.remote.address)
      ? this.options!.loopbackUdpPayload
      : this.options!.maxUdpPayload;
    const { port, address } = conn.remote;
    let sent = 0;
    while (sent < budget) {
      if (this.slabOffset + max > SLAB_SIZE) {
        this.slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
        this.slabOffset = 0;
      }
      const start = this.slabOffset;
      let result: ReturnType<Connection['send']>;
      try {
        result = conn.q.send(this.slab.subarray(start, start + max));
      } catch {
        return false;
      }
      if (result === null) break;
      const len = result[0];
      socket.send(this.slab.subarray(start, start + len), port, address);
      this.slabOffset = start + ((len + 7) & ~7);
      sent += len;
      this.counters.datagramsOut++;
      this.counters.bytesOut += len;
    }
    // Sends usually complete synchronously; when none is queued the slab can be reused from the start.
    if (socket.getSendQueueCount() === 0) this.slabOffset = 0;
    return sent >= budget;
  }

  private sendRaw(data: Buffer, port: number, address: string): void {
    if (!this.socket) return;
    this.socket.send(data, port, address);
    this.counters.datagramsOut++;
    this.counters.bytesOut += data.length;
  }

  // ---- streams ------------------------------------------------------------------------------

  private feedSends(conn: DriverConnection): void {
    const q = conn.q;
    for (const stream of conn.pendingSend) {
      let accepted = 0;
      try {
        while (stream.sendQueue.length > 0) {
          const chunk = stream.sendQueue[0]!;
          const last = stream.finQueued && stream.sendQueue.length === 1;
          const rest = stream.sendOffset === 0 ? chunk : chunk.subarray(stream.sendOffset);
          const n = q.streamSend(stream.sid, rest, last);
          if (n === null) {
            // quiche forgets a stream once both sides are done (e.g. stopped, then reset by quiche
            // itself); writes to it then return Done forever, so ask whether quiche still has it.
            if (stream.known && !this.streamExists(q, stream.sid)) this.stopStream(conn, stream, -1);
            break;
          }
          stream.known = true;
          accepted += n;
          if (n < rest.length) {
            stream.sendOffset += n;
            break;
          }
          this.recycle(stream.sendQueue.shift()!);
          stream.sendOffset = 0;
          if (last) stream.sendDone = true;
        }
        if (stream.sendQueue.length === 0 && stream.finQueued && !stream.sendDone) {
          if (q.streamSend(stream.sid, EMPTY, true) !== null) stream.sendDone = true;
        }
      } catch (error) {
        const { name, code } = quicheError(error);
        // StreamLimit: the peer has not granted another stream yet; retried on a later turn.
        if (name !== 'StreamLimit') this.stopStream(conn, stream, code ?? -1);
      }
      if (accepted > 0) {
        conn.outbound = true;
        this.acks.push({ ev: 'ack', h: conn.handle, sid: stream.sid, n: accepted });
        this.ackBytes += accepted;
      }
      if (stream.sendDone) conn.outbound = true;
      // Pending: bytes or a FIN quiche has not taken yet (no room, or no stream credit from the peer).
      if (stream.sendDone || (stream.sendQueue.length === 0 && !stream.finQueued))
        conn.pendingSend.delete(stream);
      this.forgetIfDone(conn, stream);
    }
  }

  private streamExists(q: Connection, sid: number): boolean {
    try {
      q.streamCapacity(sid);
      return true;
    } catch (error) {
      return quicheError(error).name !== 'InvalidStreamState';
    }
  }

  /** The peer stopped our sending side: drop what is queued and tell the writer. */
  private stopStream(conn: DriverConnection, stream: DriverStream, code: number): void {
    if (stream.sendDone) return;
    stream.sendDone = true;
    for (const chunk of stream.sendQueue.splice(0)) this.recycle(chunk);
    conn.pendingSend.delete(stream);
    this.push({ ev: 'stopped', h: conn.handle, sid: stream.sid, code });
  }

  /**
   * STOP_SENDING on a stream with nothing queued would only show at its next write, and quiche may
   * have forgotten the stream by then: ask about each stream we still send on (quiche also lists
   * stopped streams as writable, which is how many streams are checked).
   */
  private checkStopped(conn: DriverConnection): void {
    const q = conn.q;
    if (conn.streams.size <= FEW_STREAMS) {
      for (const stream of conn.streams.values()) {
        if (!stream.known || stream.sendDone || conn.pendingSend.has(stream)) continue;
        this.checkStreamStopped(conn, stream, true);
      }
      return;
    }
    for (const sid of q.writable()) {
      const stream = conn.streams.get(sid);
      if (!stream || stream.sendDone || conn.pendingSend.has(stream)) continue;
      this.checkStreamStopped(conn, stream, false);
    }
  }

  /** `maybeGone`: the stream was not found through `writable()`, so quiche may have dropped it. */
  private checkStreamStopped(conn: DriverConnection, stream: DriverStream, maybeGone: boolean): void {
    try {
      conn.q.streamWritable(stream.sid, 0);
    } catch (error) {
      const { name, code } = quicheError(error);
      if (name === 'StreamStopped') this.stopStream(conn, stream, code ?? -1);
      // Gone from quiche while our side still sends: stopped and reset by quiche itself.
      else if (maybeGone && name === 'InvalidStreamState') this.stopStream(conn, stream, -1);
    }
    this.forgetIfDone(conn, stream);
  }

  private readStreams(conn: DriverConnection): void {
    const q = conn.q;
    if (!q.isReadable()) return;
    if (conn.streams.size <= FEW_STREAMS) {
      for (const stream of conn.streams.values()) {
        if (!stream.recvDone && stream.credit > 0 && q.streamReadable(stream.sid))
          this.readStream(conn, stream);
      }
      // Still readable: a stream the peer just opened, one waiting for credit, or a reset.
      if (!q.isReadable()) return;
    }
    for (const sid of q.readable()) {
      let stream = conn.streams.get(sid);
      if (!stream) {
        if (conn.aborted.has(sid) || !conn.isPeerBidi(sid)) continue;
        stream = new DriverStream(sid);
        stream.known = true;
        conn.streams.set(sid, stream);
        this.push({ ev: 'stream', h: conn.handle, sid });
      }
      if (!stream.recvDone && stream.credit > 0) this.readStream(conn, stream);
    }
  }

  /** Reads what the stream's credit allows straight into its inbox; a full inbox goes to the main thread. */
  private readStream(conn: DriverConnection, stream: DriverStream): void {
    const q = conn.q;
    let fin = false;
    try {
      while (stream.credit > 0) {
        stream.inbox ??= Buffer.allocUnsafeSlow(RECV_CHUNK);
        const inbox = stream.inbox;
        const end = Math.min(inbox.length, stream.inboxLength + stream.credit);
        const r = q.streamRecv(stream.sid, inbox.subarray(stream.inboxLength, end));
        if (r === null) break;
        stream.inboxLength += r[0];
        stream.credit -= r[0];
        if (r[0] > 0) conn.delivered = true;
        if (stream.inboxLength === inbox.length) this.deliverInbox(conn, stream);
        if (r[1]) {
          fin = true;
          break;
        }
      }
    } catch (error) {
      this.endReceiving(conn, stream, {
        ev: 'reset',
        h: conn.handle,
        sid: stream.sid,
        code: quicheError(error).code ?? -1,
      });
      return;
    }
    if (fin) this.endReceiving(conn, stream, { ev: 'fin', h: conn.handle, sid: stream.sid });
    else if (stream.inboxLength > 0) this.held.set(stream, conn);
  }

  /** The peer's side is over (FIN or RESET): the bytes before it, then the event, and no more inbox. */
  private endReceiving(conn: DriverConnection, stream: DriverStream, event: DriverEvent): void {
    this.deliverInbox(conn, stream);
    stream.inbox = null;
    stream.recvDone = true;
    this.push(event);
    this.forgetIfDone(conn, stream);
  }

  /**
   * Hands the inbox's bytes to the main thread: a full inbox crosses as it is (no copy, the stream
   * takes a new one), a partial one as a copy, and the inbox is reused.
   */
  private deliverInbox(conn: DriverConnection, stream: DriverStream): void {
    const inbox = stream.inbox;
    const length = stream.inboxLength;
    this.held.delete(stream);
    if (!inbox || length === 0) return;
    let data: ArrayBuffer;
    if (length === inbox.length) {
      data = inbox.buffer as ArrayBuffer;
      stream.inbox = null;
    } else {
      data = inbox.buffer.slice(inbox.byteOffset, inbox.byteOffset + length) as ArrayBuffer;
    }
    stream.inboxLength = 0;
    this.events.push({ ev: 'data', h: conn.handle, sid: stream.sid, data });
    this.transfer.push(data);
  }

  /**
   * Held bytes go now when a message leaves anyway, when their connection is not streaming, or
   * when they have waited DELIVERY_HOLD_MS (the timer); otherwise they wait for more.
   */
  private releaseHeld(all: boolean): void {
    for (const [stream, conn] of this.held) {
      if (all || !conn.streaming) this.deliverInbox(conn, stream);
    }
    if (this.held.size === 0) {
      if (this.holdTimer) clearTimeout(this.holdTimer);
      this.holdTimer = null;
    } else this.holdTimer ??= setTimeout(this.onHoldTimer, DELIVERY_HOLD_MS);
  }

  private readonly onHoldTimer = (): void => {
    this.holdTimer = null;
    this.releaseHeld(true);
    this.flushEvents();
  };

  private forgetIfDone(conn: DriverConnection, stream: DriverStream): void {
    if (stream.recvDone && stream.sendDone) conn.streams.delete(stream.sid);
  }

  // ---- events and stats ---------------------------------------------------------------------

  private push(event: DriverEvent): void {
    this.events.push(event);
  }

  private recycle(chunk: Uint8Array): void {
    if (chunk.buffer.byteLength === WRITE_BUFFER_SIZE) this.recycled.push(chunk.buffer as ArrayBuffer);
  }

  /**
   * Delivers the batch. Small write acknowledgements alone do not make a batch: each would wake
   * the API's thread for nothing (the writer's callback already ran, see SEND_WINDOW); they go
   * with the next events, once ACK_BATCH_BYTES are acknowledged, or after ACK_FLUSH_MS.
   */
  private flushEvents(): void {
    if (this.recycled.length > 0) {
      const buffers = this.recycled;
      this.recycled = [];
      this.events.push({ ev: 'recycle', buffers });
      this.transfer.push(...buffers);
    }
    if (this.held.size > 0) this.releaseHeld(this.events.length > 0);
    if (this.acks.length > 0) {
      if (this.events.length === 0 && this.ackBytes < ACK_BATCH_BYTES) {
        this.ackTimer ??= setTimeout(this.flushAcks, ACK_FLUSH_MS);
        return;
      }
      // Before the other events: a stream's 'closed' or 'stopped' must find its bytes acknowledged.
      this.events = this.acks.concat(this.events);
      this.acks = [];
      this.ackBytes = 0;
      if (this.ackTimer) clearTimeout(this.ackTimer);
      this.ackTimer = null;
    }
    if (this.events.length === 0) return;
    const events = this.events;
    const transfer = this.transfer;
    this.events = [];
    this.transfer = [];
    this.deliver(events, transfer);
  }

  private readonly flushAcks = (): void => {
    this.ackTimer = null;
    this.ackBytes = ACK_BATCH_BYTES;
    this.flushEvents();
  };

  private endpointStats(): EndpointStats {
    return { connections: this.byHandle.size, ...this.counters };
  }

  private connectionStats(h: number): ConnectionStats | null {
    const conn = this.byHandle.get(h);
    if (!conn) return null;
    const s = conn.q.stats();
    const path = conn.q.pathStats()[0];
    return {
      rttMs: path ? path.rtt : 0,
      cwnd: path ? path.cwnd : 0,
      sentPackets: s.sent,
      recvPackets: s.recv,
      lostPackets: s.lost,
      retransmittedPackets: s.retrans,
      sentBytes: s.sentBytes,
      recvBytes: s.recvBytes,
      lostBytes: s.lostBytes,
      deliveryRate: path ? path.deliveryRate : 0,
      pmtu: path ? path.pmtu : 0,
    };
  }
}

/** 127.0.0.0/8 and ::1 (also IPv4-mapped): a path inside this machine, with no MTU to speak of. */
function isLoopback(address: string): boolean {
  return address === '::1' || /^(::ffff:)?127\./.test(address);
}
