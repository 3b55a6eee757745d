import { randomBytes } from 'node:crypto';
import type { Connection, Host } from '@matrixai/quic/native/index.js';
import { quiche } from '@matrixai/quic/native/index.js';
import type { RemoteAddress } from '../protocol.js';
import { RetryTokens } from '../retry-token.js';
import { CID_LEN, type ConnectionTable } from './connection-table.js';
import type { PacketSender } from './packet-sender.js';
import type { QuicheConfigs } from './quiche-config.js';
import type { DriverCounters } from './stats.js';

export type InitialHeader = ReturnType<typeof quiche.Header.fromSlice>;

/** The server's door: version negotiation and stateless retry before quiche accepts a connection. */
export class Admission {
  private readonly retryTokens = new RetryTokens();

  constructor(
    private readonly sender: PacketSender,
    private readonly counters: DriverCounters,
    private readonly table: ConnectionTable,
  ) {}

  /**
   * Server side of a new connection: version negotiation, stateless retry, then accept. Returns
   * 'answered' when a negotiation or retry packet went back, undefined when the packet is dropped.
   */
  accept(
    msg: Buffer,
    rinfo: RemoteAddress,
    header: InitialHeader,
    configs: QuicheConfigs,
    local: Host,
  ): Connection | 'answered' | undefined {
    if (header.ty !== quiche.Type.Initial) return undefined;
    if (msg.length < quiche.MIN_CLIENT_INITIAL_LEN) return undefined;
    if (!quiche.versionIsSupported(header.version)) {
      const out = Buffer.allocUnsafe(quiche.MAX_DATAGRAM_SIZE);
      const n = quiche.negotiateVersion(header.scid, header.dcid, out);
      this.sender.sendRaw(out.subarray(0, n), rinfo.port, rinfo.address);
      return 'answered';
    }
    const token = header.token;
    if (!token || token.length === 0) {
      const retryScid = randomBytes(CID_LEN);
      const newToken = this.retryTokens.mint(rinfo.address, rinfo.port, header.dcid, retryScid);
      const out = Buffer.allocUnsafe(quiche.MAX_DATAGRAM_SIZE);
      const n = quiche.retry(header.scid, header.dcid, retryScid, newToken, header.version, out);
      this.sender.sendRaw(out.subarray(0, n), rinfo.port, rinfo.address);
      this.counters.retriesSent++;
      return 'answered';
    }
    if (header.dcid.length !== CID_LEN) return undefined;
    const odcid = this.retryTokens.validate(token, rinfo.address, rinfo.port, header.dcid);
    if (!odcid) return undefined;
    // Counted only now that the retry token proved the address: a spoofed flood fills nothing.
    if (!this.hasRoom(rinfo.address, configs)) {
      this.counters.refusedConnections++;
      return undefined;
    }
    try {
      return quiche.Connection.accept(
        header.dcid,
        odcid,
        local,
        { host: rinfo.address, port: rinfo.port },
        configs.forPeer(rinfo.address),
      );
    } catch {
      return undefined;
    }
  }

  /** Room for one more connection from `address` under the incoming connection limits. */
  private hasRoom(address: string, configs: QuicheConfigs): boolean {
    const { total, fromAddress } = this.table.incoming(address);
    const { maxIncomingConnections, maxIncomingPerAddress } = configs.options;
    return total < maxIncomingConnections && fromAddress < maxIncomingPerAddress;
  }
}
