import { EventEmitter } from 'node:events';
import { QuicConnectionClosedError } from './errors.js';
import type { ConnectionCloseInfo, ConnectionStats, DriverCommand, RemoteAddress } from './protocol.js';
import { QuicStream, type StreamSink } from './stream.js';

/** How a connection reaches its driver: implemented by the endpoint. */
export interface ConnectionChannel {
  command(cmd: DriverCommand, transfer?: ArrayBuffer): void;
  request<T>(build: (req: number) => DriverCommand): Promise<T>;
  /** A write buffer of WRITE_BUFFER_SIZE bytes, from the pool when one is free. */
  allocate(size: number): ArrayBuffer;
}

/** How a connection ended; `error` is set when it was not a graceful application close. */
export interface QuicCloseEvent {
  code: number;
  reason: string;
  byPeer: boolean;
  error?: Error;
}

export interface QuicConnectionEvents {
  stream: [QuicStream];
  close: [QuicCloseEvent];
}

/**
 * An established, mutually authenticated QUIC connection. `peerFingerprint` is the SHA-256 of the
 * peer's certificate (lowercase hex): the client side has already checked it against the pinned
 * value; the accepting side must check it against the session it authorises.
 */
export class QuicConnection extends EventEmitter<QuicConnectionEvents> {
  private readonly streams = new Map<number, QuicStream>();
  private nextStreamId: number;
  private closeInfo: QuicCloseEvent | null = null;
  private readonly closedPromise: Promise<QuicCloseEvent>;
  private resolveClosed!: (info: QuicCloseEvent) => void;
  private readonly sink: StreamSink;

  constructor(
    private readonly channel: ConnectionChannel,
    /** @internal driver handle */
    readonly handle: number,
    readonly role: 'client' | 'server',
    /** The peer's address; it changes when the peer moves (see `onMigrated`). */
    public remote: RemoteAddress,
    readonly peerFingerprint: string,
  ) {
    super();
    // Client-initiated bidirectional stream ids are 0, 4, 8 …; server-initiated ones 1, 5, 9 …
    this.nextStreamId = role === 'client' ? 0 : 1;
    this.closedPromise = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    const h = handle;
    this.sink = {
      write: (sid, data, len, fin) => channel.command({ op: 'write', h, sid, data, len, fin }, data),
      allocate: (size) => channel.allocate(size),
      end: (sid) => channel.command({ op: 'end', h, sid }),
      credit: (sid, n) => channel.command({ op: 'credit', h, sid, n }),
      abort: (sid, code) => channel.command({ op: 'abort', h, sid, code }),
    };
  }

  get closed(): boolean {
    return this.closeInfo !== null;
  }

  /** Opens a bidirectional stream. The peer learns of it with the first bytes (or end) written. */
  openStream(): QuicStream {
    if (this.closeInfo) {
      const { code, reason, byPeer, error } = this.closeInfo;
      throw error ?? new QuicConnectionClosedError(code, reason, byPeer);
    }
    const stream = this.track(new QuicStream(this.nextStreamId, this.sink));
    this.nextStreamId += 4;
    return stream;
  }

  /** Closes with an application error code and reason; resolves once the connection is gone. */
  close(code = 0, reason = ''): Promise<void> {
    if (!this.closeInfo) this.channel.command({ op: 'close', h: this.handle, code, reason });
    return this.closedPromise.then(() => undefined);
  }

  /** Resolves with how the connection ended. */
  get done(): Promise<QuicCloseEvent> {
    return this.closedPromise;
  }

  async stats(): Promise<ConnectionStats | null> {
    if (this.closeInfo) return null;
    return this.channel.request<ConnectionStats | null>((req) => ({ op: 'stats', req, h: this.handle }));
  }

  /** @internal */
  stream(sid: number): QuicStream | undefined {
    return this.streams.get(sid);
  }

  /** @internal The peer opened a stream. */
  onPeerStream(sid: number): void {
    const stream = this.track(new QuicStream(sid, this.sink));
    this.emit('stream', stream);
  }

  /** @internal */
  onClosed(info: ConnectionCloseInfo): void {
    if (this.closeInfo) return;
    const error = new QuicConnectionClosedError(info.code, info.reason, info.byPeer, info.error);
    const event: QuicCloseEvent = { code: info.code, reason: info.reason, byPeer: info.byPeer };
    if (info.error !== undefined) event.error = error;
    this.closeInfo = event;
    // Closing our own connection ends its streams quietly; anything else is an error for them.
    const graceful = !info.byPeer && info.error === undefined;
    for (const stream of [...this.streams.values()]) stream.onConnectionClosed(error, graceful);
    this.resolveClosed(event);
    this.emit('close', event);
  }

  private track(stream: QuicStream): QuicStream {
    this.streams.set(stream.id, stream);
    stream.once('close', () => this.streams.delete(stream.id));
    return stream;
  }
}
