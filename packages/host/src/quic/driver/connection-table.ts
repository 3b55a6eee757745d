import type { Connection, Host } from '@matrixai/quic/native/index.js';
import type { RemoteAddress } from '../protocol.js';
import { DriverConnection } from './state.js';

/** Every connection id we issue is 20 bytes, so short-header packets are routable by bytes 1..21. */
export const CID_LEN = 20;

export const cidKey = (cid: Uint8Array): string =>
  Buffer.from(cid.buffer, cid.byteOffset, cid.byteLength).toString('latin1');

/** The live connections, found by connection id (incoming packets) or by handle (the main thread's commands). */
export class ConnectionTable {
  private readonly byKey = new Map<string, DriverConnection>();
  private readonly byHandle = new Map<number, DriverConnection>();
  private nextHandle = 1;

  add(
    q: Connection,
    role: 'client' | 'server',
    key: string,
    remote: RemoteAddress,
    local: Host,
    connectReq: number | null,
    expectedFingerprint: string | null,
  ): DriverConnection {
    const conn = new DriverConnection(
      this.nextHandle++,
      q,
      role,
      key,
      remote,
      local,
      connectReq,
      expectedFingerprint,
    );
    this.byKey.set(key, conn);
    this.byHandle.set(conn.handle, conn);
    return conn;
  }

  /** `key`: a connection id as made by `cidKey`. */
  withKey(key: string): DriverConnection | undefined {
    return this.byKey.get(key);
  }

  withHandle(h: number): DriverConnection | undefined {
    return this.byHandle.get(h);
  }

  remove(conn: DriverConnection): void {
    this.byKey.delete(conn.key);
    this.byHandle.delete(conn.handle);
  }

  get size(): number {
    return this.byHandle.size;
  }

  /** A snapshot: safe to remove connections while walking it. */
  all(): DriverConnection[] {
    return [...this.byHandle.values()];
  }
}
