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
  /** Connections peers opened to us, by their IP address (the admission limits count these). */
  private readonly incomingByAddress = new Map<string, number>();
  private incomingTotal = 0;
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
    if (role === 'server') this.countIncoming(remote.address, 1);
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
    if (!this.byHandle.delete(conn.handle)) return;
    this.byKey.delete(conn.key);
    if (conn.role === 'server') this.countIncoming(conn.remote.address, -1);
  }

  /** The peer of `conn` is now at `remote` (quiche moved the connection there): it counts there from now on. */
  move(conn: DriverConnection, remote: RemoteAddress): void {
    if (conn.role === 'server' && this.byHandle.has(conn.handle)) {
      this.countIncoming(conn.remote.address, -1);
      this.countIncoming(remote.address, 1);
    }
    conn.remote = remote;
    conn.recvInfo.from = { host: remote.address, port: remote.port };
  }

  /** Connections peers opened to us: in all, and from `address`. */
  incoming(address: string): { total: number; fromAddress: number } {
    return { total: this.incomingTotal, fromAddress: this.incomingByAddress.get(address) ?? 0 };
  }

  private countIncoming(address: string, delta: 1 | -1): void {
    this.incomingTotal += delta;
    const count = (this.incomingByAddress.get(address) ?? 0) + delta;
    if (count > 0) this.incomingByAddress.set(address, count);
    else this.incomingByAddress.delete(address);
  }

  get size(): number {
    return this.byHandle.size;
  }

  /** A snapshot: safe to remove connections while walking it. */
  all(): DriverConnection[] {
    return [...this.byHandle.values()];
  }
}
