import type dgram from 'node:dgram';
import type { Connection } from '@matrixai/quic/native/index.js';
import type { PacketLayer } from '../paths/packet-layer.js';
import type { QuicheConfigs } from './quiche-config.js';
import type { DriverConnection } from './state.js';

/** Outgoing packets are carved from slabs: no allocation per packet, and a queued packet's bytes are never reused. */
const SLAB_SIZE = 1 << 20;

/** The datagram side of the send path: drains quiche's packets into the driver's socket. */
export class PacketSender {
  private socket: dgram.Socket | null = null;
  private layer: PacketLayer | null = null;
  private configs: QuicheConfigs | null = null;
  private slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
  private slabOffset = 0;

  /** Sends go out through the packet layer, in datagrams sized per peer by `configs`. */
  attach(socket: dgram.Socket, layer: PacketLayer, configs: QuicheConfigs): void {
    this.socket = socket;
    this.layer = layer;
    this.configs = configs;
  }

  /** The driver closed its socket: nothing more goes out. */
  detach(): void {
    this.socket = null;
    this.layer = null;
  }

  /** Writes quiche's packets to the socket; returns true when the budget ran out before quiche did. */
  drainSend(conn: DriverConnection, budget: number): boolean {
    const socket = this.socket;
    const layer = this.layer;
    if (!socket || !layer) return false;
    const max = this.configs!.sendPayload(conn.remote.address);
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
      layer.send(this.slab.subarray(start, start + len), address, port);
      this.slabOffset = start + ((len + 7) & ~7);
      sent += len;
    }
    // Sends usually complete synchronously; when none is queued the slab can be reused from the start.
    if (socket.getSendQueueCount() === 0) this.slabOffset = 0;
    return sent >= budget;
  }

  /** A packet built outside any connection (version negotiation, retry). */
  sendRaw(data: Buffer, port: number, address: string): void {
    this.layer?.send(data, address, port);
  }
}
