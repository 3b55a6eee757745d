import type dgram from 'node:dgram';
import { BatchReceiver } from './batch-receiver.js';
import type { Binding, UdpBatchNative } from './binding.js';
import type { DgramHandle } from './dgram-handle.js';
import { DgramHandoff } from './dgram-handoff.js';
import { errnoName } from './errno.js';
import type {
  BatchUdp,
  Counters,
  DatagramHandler,
  OutgoingDatagram,
  ReceiveOptions,
  SendPath,
} from './types.js';

/** BatchUdp through the addon, on a duplicate of the socket's fd; node:dgram keeps owning the socket. */
export class NativeUdp implements BatchUdp {
  readonly unavailableReason = null;
  lastSendError: string | null = null;
  private readonly handoff: DgramHandoff;
  private receiver: BatchReceiver | null = null;
  private groOn = false;
  private batched = 0;
  private handedOff = 0;
  /** Of receivers stopped before the current one. */
  private pastReads = 0;
  private closed = false;

  constructor(
    private readonly socket: dgram.Socket,
    private readonly handle: DgramHandle,
    private readonly native: UdpBatchNative,
    private readonly limits: Binding['limits'],
    private readonly gsoDisabledBy: string | null,
  ) {
    this.handoff = new DgramHandoff(socket);
    // Our duplicate fd would keep the port bound after node:dgram closed its own.
    socket.once('close', this.onSocketClose);
  }

  get path(): SendPath {
    if (this.closed) return 'dgram';
    return this.native.gso ? 'gso' : 'sendmmsg';
  }

  get gsoOffReason(): string | null {
    if (this.native.gso) return null;
    return this.gsoDisabledBy ?? `the kernel answered ${errnoName(this.native.gsoOffErrno)}`;
  }

  get gro(): boolean {
    return this.groOn;
  }

  get counters(): Counters {
    return {
      batched: this.batched,
      calls: this.native.sendCalls,
      handedOff: this.handedOff,
      reads: this.reads,
    };
  }

  private get reads(): number {
    return this.pastReads + (this.receiver?.reads ?? 0);
  }

  idle(): boolean {
    return this.handoff.idle() && (this.closed || this.socket.getSendQueueCount() === 0);
  }

  sendSegments(
    buf: Uint8Array,
    offset: number,
    length: number,
    segmentSize: number,
    address: string,
    port: number,
  ): number {
    const total = Math.ceil(length / segmentSize);
    // Behind datagrams node:dgram still holds, a batch would overtake them.
    const sent =
      this.closed || !this.idle()
        ? 0
        : this.native.sendSegments(buf, offset, length, segmentSize, address, port);
    this.batched += sent;
    this.lastSendError = sent < total ? errnoName(this.native.lastErrno) : null;
    if (sent < total) {
      const done = sent * segmentSize;
      this.handoff.sendSegments(buf, offset + done, length - done, segmentSize, address, port);
      this.handedOff += total - sent;
    }
    return sent;
  }

  sendMany(packets: readonly OutgoingDatagram[], count = packets.length): number {
    let sent = 0;
    this.lastSendError = null;
    if (!this.closed && this.idle()) {
      while (sent < count) {
        const went = this.native.sendMany(packets, sent, count - sent);
        sent += went;
        // A short count means the next datagram failed; the next call says why, or sends it.
        if (went === 0) {
          this.lastSendError = errnoName(this.native.lastErrno);
          break;
        }
      }
      this.batched += sent;
    }
    for (let i = sent; i < count; i++) {
      const p = packets[i]!;
      this.handoff.send(p.buf, p.offset, p.length, p.address, p.port);
    }
    this.handedOff += count - sent;
    return sent;
  }

  startReceiving(onDatagram: DatagramHandler, options: ReceiveOptions = {}): void {
    if (this.closed) throw new Error('BatchUdp is closed');
    this.stopReceiving();
    this.groOn = options.gro === true && this.native.setGro(true) === 0;
    const receiver = new BatchReceiver(this.native, this.limits, this.groOn, onDatagram, options);
    // libuv allows one watcher per fd: dgram stops reading, and we poll our duplicate instead.
    this.handle.recvStop();
    this.native.poll(receiver.onReadable);
    this.receiver = receiver;
  }

  stopReceiving(): void {
    if (!this.receiver) return;
    this.dropReceiver();
    if (this.closed) return;
    this.native.poll(null);
    // dgram could not split coalesced reads.
    if (this.groOn) this.native.setGro(false);
    this.groOn = false;
    this.handle.recvStart();
  }

  close(): void {
    if (this.closed) return;
    this.stopReceiving();
    this.socket.off('close', this.onSocketClose);
    this.release();
  }

  private readonly onSocketClose = (): void => {
    this.dropReceiver();
    this.release();
  };

  private dropReceiver(): void {
    this.pastReads = this.reads;
    this.receiver?.stop();
    this.receiver = null;
  }

  private release(): void {
    this.closed = true;
    this.groOn = false;
    this.native.close();
  }
}
