import type dgram from 'node:dgram';
import { DgramHandoff } from './dgram-handoff.js';
import type { BatchUdp, Counters, DatagramHandler, OutgoingDatagram } from './types.js';

/** BatchUdp over plain node:dgram: what callers get where batching is unavailable. */
export class FallbackUdp implements BatchUdp {
  readonly path = 'dgram';
  readonly gsoOffReason = null;
  readonly gro = false;
  readonly lastSendError = null;
  readonly counters: Counters = { batched: 0, calls: 0, handedOff: 0, reads: 0 };
  private readonly handoff: DgramHandoff;
  private listener: ((msg: Buffer, rinfo: dgram.RemoteInfo) => void) | null = null;

  constructor(
    private readonly socket: dgram.Socket,
    readonly unavailableReason: string,
  ) {
    this.handoff = new DgramHandoff(socket);
  }

  sendSegments(
    buf: Uint8Array,
    offset: number,
    length: number,
    segmentSize: number,
    address: string,
    port: number,
  ): number {
    this.handoff.sendSegments(buf, offset, length, segmentSize, address, port);
    this.counters.handedOff += Math.ceil(length / segmentSize);
    return 0;
  }

  sendMany(packets: readonly OutgoingDatagram[], count = packets.length): number {
    for (let i = 0; i < count; i++) {
      const p = packets[i]!;
      this.handoff.send(p.buf, p.offset, p.length, p.address, p.port);
    }
    this.counters.handedOff += count;
    return 0;
  }

  idle(): boolean {
    return this.handoff.idle();
  }

  startReceiving(onDatagram: DatagramHandler): void {
    this.stopReceiving();
    this.listener = (msg, rinfo) => {
      this.counters.reads++;
      onDatagram(msg, 0, msg.length, rinfo.address, rinfo.port);
    };
    this.socket.on('message', this.listener);
  }

  stopReceiving(): void {
    if (this.listener) this.socket.off('message', this.listener);
    this.listener = null;
  }

  close(): void {
    this.stopReceiving();
  }
}
