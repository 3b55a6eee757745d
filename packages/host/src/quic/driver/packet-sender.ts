import type { Connection, Host } from '@matrixai/quic/native/index.js';
import type { Endpoint } from '../../nat/ip.js';
import type { PacketLayer } from '../paths/packet-layer.js';
import type { QuicheConfigs } from './quiche-config.js';
import type { DriverConnection } from './state.js';

/** Outgoing packets are carved from slabs: no allocation per packet, and a queued packet's bytes are never reused. */
const SLAB_SIZE = 1 << 20;

/**
 * A train — packets written back to back, leaving in one system call (a GSO sendmsg, else one
 * sendmmsg) — holds at most this many packets and MAX_TRAIN_BYTES: 48 × 1350 bytes, about what
 * one TSO send of a TCP connection puts on the wire at once. Pacing is not followed within a
 * train, nor was it before: the binding hands quiche's pacing time (`SendInfo.at`) over as an
 * opaque object, and the driver sends what quiche builds in a turn (up to SEND_BUDGET_BYTES)
 * at once. quiche's send quantum (its advice for GSO bursts) stays at 10 packets here whatever
 * the rate; capping trains at it cost 1350-byte transfers on loopback 10–15% of their throughput.
 */
export const MAX_TRAIN = 48;
const MAX_TRAIN_BYTES = MAX_TRAIN * 1350;

/** What the sender needs of the packet layer. */
export type PacketOut = Pick<PacketLayer, 'send' | 'sendTrain' | 'udpRoute' | 'idle'>;

/**
 * The datagram side of the send path: drains quiche's packets into the packet layer. Packets to a
 * real address are written back to back and leave in trains of equal-size datagrams (the last may
 * be shorter): one GSO send each.
 */
export class PacketSender {
  private out: PacketOut | null = null;
  private configs: QuicheConfigs | null = null;
  private slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
  /** Where quiche writes the next packet. */
  private offset = 0;
  /** The train not sent yet: `count` packets at [trainStart, offset), all `segment` bytes but the last. */
  private trainStart = 0;
  private count = 0;
  private segment = 0;
  /** The address quiche named for the current train (`SendInfo.to`), real or mapped. */
  private aimedAt: Host = { host: '', port: 0 };
  /** Where that address's packets go out: a real address (trains), else the peer's mapped one. */
  private to: Endpoint = { address: '', port: 0 };
  private direct = false;
  private maxTrain = 1;

  /** Sends go out through the packet layer, in datagrams sized per peer by `configs`. */
  attach(out: PacketOut, configs: QuicheConfigs): void {
    this.out = out;
    this.configs = configs;
  }

  /** The driver closed its socket: nothing more goes out. */
  detach(): void {
    this.out = null;
  }

  /**
   * Writes quiche's packets to the socket, each to the address quiche names for it (a peer that
   * moved, a path being validated); returns true when the budget ran out before quiche did.
   */
  drainSend(conn: DriverConnection, budget: number): boolean {
    const out = this.out;
    if (!out) return false;
    const max = this.configs!.sendPayload(conn.remote.address);
    this.aimedAt = { host: '', port: 0 };
    let sent = 0;
    while (sent < budget) {
      if (this.offset + max > SLAB_SIZE) this.nextSlab(out, max);
      const start = this.offset;
      let result: ReturnType<Connection['send']>;
      try {
        result = conn.q.send(this.slab.subarray(start, start + max));
      } catch {
        break;
      }
      if (result === null) break;
      const [len, { to }] = result;
      sent += len;
      if (to.port !== this.aimedAt.port || to.host !== this.aimedAt.host) {
        this.flush(out, false);
        this.aim(out, to, max);
      }
      // A longer packet cannot follow a train's segments: the train leaves without it.
      if (this.count > 0 && len > this.segment) this.flush(out, false);
      this.offset = start + len;
      if (this.count++ === 0) this.segment = len;
      if (len < this.segment || this.count >= this.maxTrain) this.flush(out, true);
    }
    this.flush(out, true);
    return sent >= budget;
  }

  /** Packets to `to` from here on: toward a relay (which copies) or no path yet, one at a time. */
  private aim(out: PacketOut, to: Host, max: number): void {
    const route = out.udpRoute(to.host, to.port);
    this.aimedAt = to;
    this.to = route ?? { address: to.host, port: to.port };
    this.direct = route !== null;
    this.maxTrain = route ? trainLength(max) : 1;
  }

  /** A packet built outside any connection (version negotiation, retry). */
  sendRaw(data: Buffer, port: number, address: string): void {
    this.out?.send(data, address, port);
  }

  /**
   * Sends the train; `rewind`: no packet follows it in the slab, so the slab may be reused from
   * its start if nothing is left waiting in node:dgram (the kernel copied everything else).
   */
  private flush(out: PacketOut, rewind: boolean): void {
    if (this.count > 0) {
      const { to, trainStart, offset } = this;
      if (this.direct)
        out.sendTrain(this.slab, trainStart, offset - trainStart, this.segment, to.address, to.port);
      else out.send(this.slab.subarray(trainStart, offset), to.address, to.port);
      this.count = 0;
    }
    if (rewind && out.idle()) this.offset = 0;
    this.trainStart = this.offset;
  }

  /** No room for another packet: the train leaves, and the slab is reused or replaced. */
  private nextSlab(out: PacketOut, max: number): void {
    this.flush(out, true);
    if (this.offset + max <= SLAB_SIZE) return;
    this.slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
    this.offset = 0;
    this.trainStart = 0;
  }
}

/** Packets per train of datagrams up to `max` bytes. */
function trainLength(max: number): number {
  return Math.max(1, Math.min(MAX_TRAIN, Math.floor(MAX_TRAIN_BYTES / max)));
}
