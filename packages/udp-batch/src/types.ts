import type { OutgoingDatagram } from './binding.js';

export type { OutgoingDatagram };

/** How datagrams leave: one sendmsg per ≤64 segments, one sendmmsg per ≤64 datagrams, or node:dgram. */
export type SendPath = 'gso' | 'sendmmsg' | 'dgram';

/**
 * One received datagram: bytes [offset, offset + length) of `buf`. With batching, `buf` is a slab
 * reused by the next read: consume or copy the bytes before returning.
 */
export type DatagramHandler = (
  buf: Buffer,
  offset: number,
  length: number,
  address: string,
  port: number,
) => void;

export interface ReceiveOptions {
  /** Let the kernel coalesce a burst from one sender into one read (UDP_GRO). Default false. */
  gro?: boolean;
  /** The largest datagram to expect without GRO; larger ones are dropped. Default 65535. */
  maxDatagramSize?: number;
  /** Bytes of the receive slab. Default 1 MiB. */
  slabBytes?: number;
}

export interface Counters {
  /** Datagrams the kernel took from batched calls. */
  batched: number;
  /** sendmsg/sendmmsg calls made. */
  calls: number;
  /** Datagrams handed to node:dgram: on the fallback path, or the rest after EAGAIN, ENOBUFS, … */
  handedOff: number;
  /** Reads that returned data: recvmmsg messages (several datagrams each with GRO), or dgram messages. */
  reads: number;
}

/** Batched UDP I/O on a bound node:dgram socket, or node:dgram itself behind the same interface. */
export interface BatchUdp {
  readonly path: SendPath;
  /** Why batching is not in use (path 'dgram'), else null. */
  readonly unavailableReason: string | null;
  /** Why GSO is not in use (path 'sendmmsg'), else null. */
  readonly gsoOffReason: string | null;
  /** Whether reads coalesce (receiving with gro and the kernel agreed). */
  readonly gro: boolean;
  /** The errno name that sent the rest of the last send to node:dgram ('EAGAIN', …), else null. */
  readonly lastSendError: string | null;
  readonly counters: Counters;
  /**
   * Sends `length` bytes at `offset` as datagrams of `segmentSize` bytes (the last may be shorter),
   * all to one destination. Returns how many went out batched; the kernel refused the rest, which
   * went to node:dgram. Either way every datagram is sent or queued.
   */
  sendSegments(
    buf: Uint8Array,
    offset: number,
    length: number,
    segmentSize: number,
    address: string,
    port: number,
  ): number;
  /** Sends packets[0, count) in order; returns how many went out batched, the rest went to node:dgram. */
  sendMany(packets: readonly OutgoingDatagram[], count?: number): number;
  /** No datagram handed to node:dgram is still waiting: buffers given to earlier sends may be reused. */
  idle(): boolean;
  /** Calls onDatagram for every datagram received, until stopReceiving() or close(). */
  startReceiving(onDatagram: DatagramHandler, options?: ReceiveOptions): void;
  /** Gives receiving back to node:dgram's 'message' event. */
  stopReceiving(): void;
  /** Stops batching on the socket, which stays open (close it through node:dgram). */
  close(): void;
}
