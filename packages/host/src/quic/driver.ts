import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { isIP } from 'node:net';
import type { Connection, Host } from '@matrixai/quic/native/index.js';
import { quiche } from '@matrixai/quic/native/index.js';
import { attach, type BatchUdp } from '@mesh-agent/udp-batch';
import { sameEndpoint } from '../nat/ip.js';
import { Admission, type InitialHeader } from './driver/admission.js';
import { CID_LEN, ConnectionTable, cidKey } from './driver/connection-table.js';
import { Handshake } from './driver/handshake.js';
import { type Deliver, Outbox, STREAMING_GAP_MS } from './driver/outbox.js';
import { PacketSender } from './driver/packet-sender.js';
import { activePeerAfterPathEvents } from './driver/peer-migration.js';
import { QuicheConfigs } from './driver/quiche-config.js';
import { describeClose } from './driver/quiche-errors.js';
import type { DriverConnection } from './driver/state.js';
import { connectionStats, endpointStats, newCounters } from './driver/stats.js';
import { StreamReader } from './driver/stream-reader.js';
import { StreamWriter } from './driver/stream-writer.js';
import { ConnectionTimers } from './driver/timers.js';
import type { DriverTurn } from './driver/turn.js';
import { DirectLiveness, type LivenessTiming } from './paths/direct-liveness.js';
import { isMappedAddress } from './paths/mapped-address.js';
import { PacketLayer } from './paths/packet-layer.js';
import type {
  ConnectionCloseInfo,
  ConnectionStats,
  DriverCommand,
  DriverStartOptions,
  PunchSpec,
  RemoteAddress,
} from './protocol.js';
import { ScavengePacer } from './scavenge-pacer.js';

/** Bytes one connection may emit per event-loop turn before incoming ACKs get a chance to run. */
const SEND_BUDGET_BYTES = 512 * 1024;

/**
 * How `deadPeerMs` splits for a direct connection, as DirectLiveness does for a punched path:
 * 40% silence while owed a reply makes the peer suspect, then 3 PINGs 20% apart, all unanswered,
 * decide it. An answer to any of them, or any packet at all, clears it.
 */
export function deadPeerTiming(deadPeerMs: number): LivenessTiming {
  return {
    silenceMs: Math.max(1, Math.round(deadPeerMs * 0.4)),
    confirmProbes: 3,
    confirmIntervalMs: Math.max(1, Math.round(deadPeerMs * 0.2)),
  };
}

/**
 * The QUIC engine: one UDP socket, quiche connections keyed by connection id, their timers, and a
 * send path that drains quiche into the socket once per event-loop turn. It talks to the public API
 * only through `DriverCommand` / `DriverEvent` batches, so it can run on a worker thread or inline.
 * This class is the coordinator: it owns the socket, runs the commands and the turn (pump), and
 * leaves the work to the modules in ./driver/.
 */
export class QuicDriver {
  private socket: dgram.Socket | null = null;
  private io: BatchUdp | null = null;
  private layer: PacketLayer | null = null;
  private local: Host = { host: '0.0.0.0', port: 0 };
  private configs: QuicheConfigs | null = null;
  private readonly table = new ConnectionTable();
  private readonly dirty = new Set<DriverConnection>();
  private pumpScheduled = false;
  private closing = false;
  private readonly counters = newCounters();
  /** Without batching, node:dgram allocates a Buffer per datagram, outside the heap: freed as they go (see ScavengePacer). */
  private readonly scavenges = new ScavengePacer();
  private readonly outbox: Outbox;
  private readonly sender: PacketSender;
  private readonly admission: Admission;
  private readonly reader: StreamReader;
  private readonly writer: StreamWriter;
  private readonly handshake: Handshake;
  private readonly timers: ConnectionTimers;

  constructor(deliver: Deliver) {
    const turn: DriverTurn = {
      markDirty: (conn) => this.markDirty(conn),
      process: (conn) => this.process(conn),
      transmit: (conn) => this.transmit(conn),
    };
    this.outbox = new Outbox(deliver);
    this.sender = new PacketSender();
    this.admission = new Admission(this.sender, this.counters, this.table);
    this.reader = new StreamReader(this.outbox);
    this.writer = new StreamWriter(this.outbox);
    this.handshake = new Handshake(this.outbox, this.sender, turn);
    this.timers = new ConnectionTimers(turn, this.outbox);
  }

  async start(opts: DriverStartOptions): Promise<void> {
    try {
      const configs = new QuicheConfigs(opts);
      this.configs = configs;
      const family = isIP(opts.host);
      if (family === 0) throw new Error(`listen host must be an IP address, got '${opts.host}'`);
      const socket = dgram.createSocket({
        type: family === 6 ? 'udp6' : 'udp4',
        recvBufferSize: opts.options.socketBufferBytes,
        sendBufferSize: opts.options.socketBufferBytes,
        // Addresses are always IP literals here; a synchronous lookup lets send() go out immediately.
        lookup: (address, _options, callback) => callback(null, address, family),
      });
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
      const io = attach(socket);
      this.io = io;
      const layer = new PacketLayer(io, this.counters, {
        quic: this.onQuic,
        path: (path, mapped) => {
          this.nudgeConnectionsTo(mapped);
          this.outbox.push({ ev: 'path', path });
          this.outbox.flush();
        },
        pathLost: (mapped, reason) => this.dropConnectionsTo(mapped, reason),
      });
      this.layer = layer;
      this.sender.attach(layer, configs);
      const copied = io.path === 'dgram';
      // GRO: a burst from one peer arrives in one read, split by the addon.
      io.startReceiving(
        (buf, offset, length, address, port) => {
          if (copied) this.scavenges.received(length);
          layer.receive(buf.subarray(offset, offset + length), address, port);
        },
        { gro: true },
      );
      const bound = socket.address();
      this.local = { host: bound.address, port: bound.port };
      this.outbox.push({ ev: 'listening', address: bound.address, port: bound.port });
    } catch (error) {
      this.outbox.push({ ev: 'startFailed', error: error instanceof Error ? error.message : String(error) });
    }
    this.outbox.flush();
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
        case 'stun':
          this.discover(cmd.req, cmd.servers);
          break;
        case 'punch':
          this.punch(cmd.req, cmd.spec);
          break;
        case 'unpunch':
          this.layer?.unpunch(cmd.sessionId);
          break;
        case 'stats':
          this.outbox.push({
            ev: 'stats',
            req: cmd.req,
            stats:
              cmd.h === null
                ? endpointStats(this.table.size, this.counters, this.io)
                : this.connectionStats(cmd.h),
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

  /** A QUIC datagram, from the socket or a relay; `from` is the peer's real or mapped address. */
  private readonly onQuic = (msg: Buffer, from: RemoteAddress): void => {
    let conn: DriverConnection | undefined;
    const first = msg[0];
    if (first === undefined) {
      this.counters.droppedDatagrams++;
      return;
    }
    if ((first & 0x80) === 0) {
      // Short header: fixed-length DCID right after the first byte.
      conn = msg.length > CID_LEN ? this.table.withKey(msg.toString('latin1', 1, 1 + CID_LEN)) : undefined;
    } else {
      let header: InitialHeader;
      try {
        header = quiche.Header.fromSlice(msg, CID_LEN);
      } catch {
        this.counters.droppedDatagrams++;
        return;
      }
      conn = this.table.withKey(cidKey(header.dcid));
      if (!conn) {
        const accepted = this.accept(msg, from, header);
        if (accepted === 'answered') return;
        conn = accepted;
      }
    }
    if (!conn) {
      this.counters.droppedDatagrams++;
      return;
    }
    const current = conn.recvInfo.from;
    const elsewhere = from.port !== current.port || from.address !== current.host;
    // A brokered session's peer stays at its one mapped address for quiche, whatever path its
    // packets take (see mapped-address.ts); any other peer's new address is quiche's to follow.
    const pinned = elsewhere && isMappedAddress(current.host);
    const info =
      elsewhere && !pinned
        ? { from: { host: from.address, port: from.port }, to: this.local }
        : conn.recvInfo;
    try {
      conn.q.recv(msg, info);
      // quiche decrypted it: the peer is alive (a spoofed packet would have thrown).
      conn.liveness?.answered();
      // Authentic (quiche decrypted it) yet from an address the session's path does not know:
      // the session checks whether its peer moved there.
      if (pinned && !isMappedAddress(from.address)) this.layer?.peerSeenAt(conn.remote, from);
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

  /** A packet for no known connection: perhaps a client's first (see Admission). */
  private accept(
    msg: Buffer,
    rinfo: RemoteAddress,
    header: InitialHeader,
  ): DriverConnection | 'answered' | undefined {
    if (this.closing || !this.configs) return undefined;
    const q = this.admission.accept(msg, rinfo, header, this.configs, this.local);
    if (q === undefined || q === 'answered') return q;
    const remote = { address: rinfo.address, port: rinfo.port };
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
    const conn = this.table.add(q, role, key, remote, this.local, connectReq, expectedFingerprint);
    const { handshakeTimeoutMs, deadPeerMs } = this.configs!.options;
    this.handshake.startTimer(conn, handshakeTimeoutMs);
    // A brokered session's peer (mapped address) has its path's liveness and the relay; any other
    // peer has nothing to fall back to, so its silence ends the connection (see deadPeerMs).
    if (deadPeerMs > 0 && !isMappedAddress(remote.address)) {
      conn.liveness = new DirectLiveness(deadPeerTiming(deadPeerMs), {
        probe: () => {
          try {
            conn.q.sendAckEliciting();
          } catch {
            // Closing: nothing to probe.
          }
          conn.outbound = true;
          this.markDirty(conn);
        },
        dead: () => this.peerStoppedAnswering(conn, deadPeerMs),
      });
      // Our first flight (the client's Initial, the server's answer) is owed a reply.
      conn.expectReply();
    }
    return conn;
  }

  /** A direct connection's peer answered nothing, not even PINGs: the connection ends now. */
  private peerStoppedAnswering(conn: DriverConnection, deadPeerMs: number): void {
    if (conn.gone) return;
    const { address, port } = conn.remote;
    const peer = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
    const seconds = `${(deadPeerMs / 1000).toFixed(1)} s`;
    const error = conn.established
      ? `the peer at ${peer} stopped answering (nothing heard for ${seconds})`
      : `nothing answers at ${peer} (no reply for ${seconds})`;
    try {
      // Said to nobody, most likely; a peer that was only slow learns why the connection ended.
      conn.q.close(false, 0x0, Buffer.from('peer stopped answering'));
    } catch {
      // Already closing.
    }
    this.sender.drainSend(conn, Number.POSITIVE_INFINITY);
    this.finish(conn, { code: 0, reason: '', byPeer: false, error });
    this.outbox.flush();
  }

  // ---- commands ----------------------------------------------------------------------------

  private discover(req: number, servers: RemoteAddress[]): void {
    const layer = this.layer;
    if (!layer) {
      this.outbox.push({ ev: 'stun', req, mapped: servers.map(() => null) });
      return;
    }
    void layer.discover(servers).then((mapped) => {
      this.outbox.push({ ev: 'stun', req, mapped });
      this.outbox.flush();
    });
  }

  private punch(req: number, spec: PunchSpec): void {
    const layer = this.layer;
    if (!layer || this.closing) {
      this.outbox.push({ ev: 'punchFailed', req, error: 'endpoint is closed' });
      return;
    }
    void layer.punch(spec).then((result) => {
      this.outbox.push(
        'error' in result
          ? { ev: 'punchFailed', req, error: result.error }
          : { ev: 'punched', req, mapped: result.mapped, path: result.path },
      );
      this.outbox.flush();
    });
  }

  private connect(req: number, host: string, port: number, fingerprint: string | null): void {
    const fail = (error: string) => this.outbox.push({ ev: 'connectFailed', req, error });
    if (this.closing || !this.socket || !this.configs) {
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
      q = quiche.Connection.connect(null, scid, this.local, { host, port }, this.configs.forPeer(host));
    } catch (error) {
      fail(error instanceof Error ? error.message : String(error));
      return;
    }
    const conn = this.register(q, 'client', cidKey(scid), { address: host, port }, req, fingerprint);
    this.markDirty(conn);
  }

  private queueWrite(h: number, sid: number, data: Uint8Array | null, fin: boolean): void {
    const conn = this.table.withHandle(h);
    if (!conn) return;
    if (this.writer.queue(conn, sid, data, fin)) this.markDirty(conn);
  }

  private addCredit(h: number, sid: number, n: number): void {
    const conn = this.table.withHandle(h);
    const stream = conn?.streams.get(sid);
    if (!conn || !stream) return;
    stream.credit += n;
    conn.creditAdded = true;
    conn.expectReply();
    this.markDirty(conn);
  }

  /**
   * The main thread gave up on a stream. Its reading side is stopped (STOP_SENDING); its sending
   * side is reset, unless the main thread had ended it: then what it wrote, FIN included, still
   * goes out. A reset would make the peer's quiche drop whatever its reader had not read yet,
   * which quiche 0.18 also keeps charged to the connection's window for good.
   */
  private abortStream(h: number, sid: number, code: number): void {
    const conn = this.table.withHandle(h);
    if (!conn) return;
    const stream = conn.streams.get(sid);
    const ended = stream?.finQueued === true;
    this.reader.discard(conn, sid);
    for (const direction of ended ? [quiche.Shutdown.Read] : [quiche.Shutdown.Read, quiche.Shutdown.Write]) {
      try {
        conn.q.streamShutdown(sid, direction, code);
      } catch {
        // Already finished or never opened in quiche: nothing to tell the peer.
      }
    }
    if (stream) {
      this.outbox.unhold(stream);
      stream.inbox = null;
      stream.recvDone = true;
      if (!ended) {
        stream.sendDone = true;
        conn.pendingSend.delete(stream);
        for (const chunk of stream.sendQueue.splice(0)) this.outbox.recycle(chunk);
      }
      conn.forgetIfDone(stream);
    }
    conn.aborted.add(sid);
    conn.outbound = true;
    conn.expectReply();
    this.markDirty(conn);
  }

  private closeConnection(h: number, code: number, reason: string): void {
    const conn = this.table.withHandle(h);
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
    for (const conn of this.table.all()) {
      try {
        conn.q.close(true, 0, Buffer.from('endpoint closed'));
      } catch {
        // Already closing.
      }
      this.sender.drainSend(conn, Number.POSITIVE_INFINITY);
      this.finish(conn, { code: 0, reason: 'endpoint closed', byPeer: false });
    }
    this.layer?.close();
    this.layer = null;
    this.io?.close();
    this.socket?.close();
    this.socket = null;
    this.sender.detach();
    this.outbox.push({ ev: 'shutdownDone', req });
  }

  /** Connections whose only path is gone end now, with the reason, instead of at the idle timeout. */
  private dropConnectionsTo(remote: RemoteAddress, reason: string): void {
    for (const conn of this.connectionsTo(remote))
      this.finish(conn, { code: 0, reason, byPeer: false, error: reason });
    this.outbox.flush();
  }

  /**
   * A new path: a PING on it now, not at quiche's next loss probe, which backs off to seconds on a
   * path that went dead. Its ACK makes quiche find the packets lost on the old path and resend them.
   */
  private nudgeConnectionsTo(remote: RemoteAddress): void {
    for (const conn of this.connectionsTo(remote)) {
      try {
        conn.q.sendAckEliciting();
      } catch {
        // Closing: nothing to nudge.
      }
      this.markDirty(conn);
    }
  }

  private connectionsTo(remote: RemoteAddress): DriverConnection[] {
    return this.table.all().filter((conn) => sameEndpoint(conn.remote, remote));
  }

  private connectionStats(h: number): ConnectionStats | null {
    const conn = this.table.withHandle(h);
    return conn ? connectionStats(conn.q) : null;
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
      this.outbox.flush();
      return;
    }
    const conns = [...this.dirty];
    this.dirty.clear();
    for (const conn of conns) this.collect(conn);
    // Received bytes go to the reader before any packet is built, and the packets are built in a
    // microtask: a reply the reader writes at once (inline driver) then leaves in the same packet
    // as the ACK, instead of an ACK-only packet first, which costs both sides a syscall and a wake-up.
    if (this.outbox.pending) this.outbox.flush();
    queueMicrotask(() => {
      for (const conn of conns) {
        if (this.timers.mayDelayAck(conn)) this.timers.delayAck(conn);
        else this.transmit(conn);
      }
      this.outbox.flush();
    });
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
    if (!conn.established && conn.q.isEstablished())
      this.handshake.onEstablished(conn, this.configs!.options.keepAliveMs);
    if (!conn.reported) return;
    // Asking quiche for readable and writable streams costs a walk over them: only when it may have news.
    if (read) this.reader.readStreams(conn);
    if (conn.pendingSend.size > 0) this.writer.feedSends(conn);
    if (inbound) this.writer.checkStopped(conn);
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
    this.followPeer(conn);
    const more = this.sender.drainSend(conn, SEND_BUDGET_BYTES);
    if (q.isClosed()) {
      this.finish(conn, describeClose(q));
      return;
    }
    if (more) this.markDirty(conn);
    this.timers.armTimer(conn);
  }

  /** quiche moved the connection to its peer's new address (see peer-migration.ts): so does the table. */
  private followPeer(conn: DriverConnection): void {
    const peer = activePeerAfterPathEvents(conn.q);
    if (!peer || (peer.host === conn.remote.address && peer.port === conn.remote.port)) return;
    const from = conn.remote;
    const to = { address: peer.host, port: peer.port };
    this.table.move(conn, to);
    if (conn.reported) this.outbox.push({ ev: 'migrated', h: conn.handle, from, to });
  }

  private finish(conn: DriverConnection, info: ConnectionCloseInfo): void {
    if (conn.gone) return;
    conn.gone = true;
    conn.stopTimers();
    this.table.remove(conn);
    this.dirty.delete(conn);
    // What arrived before the close is the reader's, ahead of the 'closed' event.
    for (const stream of conn.streams.values()) this.outbox.deliverInbox(conn, stream);
    if (conn.reported) this.outbox.push({ ev: 'closed', h: conn.handle, info });
    else if (conn.connectReq !== null) {
      this.outbox.push({
        ev: 'connectFailed',
        req: conn.connectReq,
        error: info.error ?? `connection closed (code ${info.code})`,
      });
    }
  }
}
