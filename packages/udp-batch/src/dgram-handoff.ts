import type dgram from 'node:dgram';

/**
 * Datagrams sent through node:dgram, counted until dgram is done with them, so that batched
 * sends never overtake them and the caller knows when their bytes may be reused.
 */
export class DgramHandoff {
  private pending = 0;
  private readonly done = (): void => {
    this.pending--;
  };

  constructor(private readonly socket: dgram.Socket) {}

  /** No datagram is waiting in node:dgram (which can queue before libuv does, e.g. during a lookup). */
  idle(): boolean {
    return this.pending === 0;
  }

  send(buf: Uint8Array, offset: number, length: number, address: string, port: number): void {
    this.pending++;
    // With a callback, a failed send goes there instead of the socket's 'error' event; like a
    // lost datagram, it is the protocol's to recover.
    this.socket.send(buf, offset, length, port, address, this.done);
  }

  sendSegments(
    buf: Uint8Array,
    offset: number,
    length: number,
    segmentSize: number,
    address: string,
    port: number,
  ): void {
    const end = offset + length;
    for (let at = offset; at < end; at += segmentSize)
      this.send(buf, at, Math.min(segmentSize, end - at), address, port);
  }
}
