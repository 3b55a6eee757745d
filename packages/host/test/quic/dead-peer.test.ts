import dgram from 'node:dgram';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { generateIdentity } from '../../src/identity/identity.js';
import { deadPeerTiming } from '../../src/quic/driver.js';
import {
  DEFAULT_QUIC_OPTIONS,
  QuicConnectError,
  type QuicConnection,
  QuicConnectionClosedError,
  QuicEndpoint,
  type QuicOptions,
  type QuicStream,
} from '../../src/quic/index.js';
import { PeerProcess } from './fixtures/spawn-peer.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends `payload` on a new stream and resolves with what comes back until the peer's end. */
async function roundTrip(conn: QuicConnection, payload: Buffer): Promise<Buffer> {
  const stream = conn.openStream();
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = once(stream, 'end');
  stream.end(payload);
  await ended;
  return Buffer.concat(chunks);
}

/**
 * Direct connections (no relay to fall back to) end within seconds of their peer's death, with
 * words, instead of at QUIC's idle timeout (30 s) or handshake timeout (10 s). Every endpoint here
 * keeps the default idle and handshake timeouts, so only the dead-peer check can end things early.
 */
describe('a direct connection whose peer stops answering', () => {
  const endpoints: QuicEndpoint[] = [];
  const peers: PeerProcess[] = [];

  afterEach(async () => {
    await Promise.all([
      ...endpoints.splice(0).map((e) => e.close()),
      ...peers.splice(0).map((p) => p.stop()),
    ]);
  });

  /** An endpoint with `options`, connected to a peer process started with `peerOptions`. */
  async function connectToPeer(
    options: Partial<QuicOptions>,
    peerOptions?: Partial<QuicOptions>,
  ): Promise<{ peer: PeerProcess; conn: QuicConnection }> {
    const [endpoint, peer] = await Promise.all([
      QuicEndpoint.listen({ host: '127.0.0.1', identity: await generateIdentity(), options }),
      PeerProcess.start(peerOptions),
    ]);
    endpoints.push(endpoint);
    peers.push(peer);
    const conn = await endpoint.connect({
      host: '127.0.0.1',
      port: peer.port,
      expectedFingerprint: peer.fingerprint,
    });
    return { peer, conn };
  }

  it('splits deadPeerMs into silence and three probes that end at deadPeerMs', () => {
    const { silenceMs, confirmProbes, confirmIntervalMs } = deadPeerTiming(4_000);
    expect(silenceMs + confirmProbes * confirmIntervalMs).toBe(4_000);
    expect(DEFAULT_QUIC_OPTIONS.deadPeerMs).toBe(4_000);
    expect(DEFAULT_QUIC_OPTIONS.idleTimeoutMs).toBe(30_000);
  });

  it('ends an idle connection kept alive every second within seconds of a SIGKILL, in words', async () => {
    // As attach-terminal watches a quiet terminal: nothing but keep-alives, once a second.
    const { peer, conn } = await connectToPeer({ keepAliveMs: 1_000 });
    expect((await roundTrip(conn, Buffer.from('alive'))).toString()).toBe('alive');
    const killedAt = Date.now();
    peer.kill();
    const closed = await conn.done;
    const ms = Date.now() - killedAt;
    expect(closed.byPeer).toBe(false);
    expect(closed.error).toBeInstanceOf(QuicConnectionClosedError);
    expect(closed.error!.message).toMatch(
      /the peer at 127\.0\.0\.1:\d+ stopped answering \(nothing heard for 4\.0 s\)/,
    );
    // Up to a keep-alive interval before anything is owed, then deadPeerMs (4 s): ~5 s, was 30 s.
    // The bound leaves room for a loaded machine (10.3 s once in a full run); the words above
    // are what only the dead-peer check says.
    expect(ms, 'ms until the dead peer was noticed').toBeLessThan(15_000);
    console.log(`dead-peer: idle connection noticed the SIGKILL after ${ms} ms`);
  }, 20_000);

  /** A listening endpoint, a peer process that dials it, and the stream `start` makes it open. */
  async function acceptStreamFrom(
    start: (victim: PeerProcess) => void,
    options: Partial<QuicOptions> = {},
    victimOptions: Partial<QuicOptions> = {},
  ): Promise<{ victim: PeerProcess; stream: QuicStream; received: () => number }> {
    const serverIdentity = await generateIdentity();
    const server = await QuicEndpoint.listen({ host: '127.0.0.1', identity: serverIdentity, options });
    endpoints.push(server);
    let received = 0;
    const incoming = new Promise<QuicStream>((resolve) =>
      server.once('connection', (conn) =>
        conn.once('stream', (stream) => {
          stream.on('data', (chunk: Buffer) => {
            received += chunk.length;
          });
          resolve(stream);
        }),
      ),
    );
    const victim = await PeerProcess.start(victimOptions);
    peers.push(victim);
    victim.send({ cmd: 'connect', port: server.address().port, fingerprint: serverIdentity.fingerprint });
    await victim.next('connected');
    start(victim);
    return { victim, stream: await incoming, received: () => received };
  }

  /** Kills the stream's sender; the stream errors "stopped answering" within `withinMs`. */
  async function expectNoticedKill(
    stream: QuicStream,
    victim: PeerProcess,
    withinMs: number,
  ): Promise<number> {
    const failed = new Promise<Error>((resolve) => stream.once('error', resolve));
    const killedAt = Date.now();
    victim.kill();
    const error = await failed;
    const ms = Date.now() - killedAt;
    expect(error).toBeInstanceOf(QuicConnectionClosedError);
    expect(error.message).toMatch(/stopped answering/);
    expect(ms, 'ms until the receiver noticed').toBeLessThan(withinMs);
    return ms;
  }

  it('errors a receiving stream within seconds when the sender is killed mid-transfer', async () => {
    const { victim, stream, received } = await acceptStreamFrom((peer) => peer.send({ cmd: 'send-forever' }));
    while (received() < 1024 * 1024) await sleep(20);
    // deadPeerMs (4 s): ~4.3 s; the bound leaves room for a loaded machine.
    const ms = await expectNoticedKill(stream, victim, 15_000);
    console.log(`dead-peer: receiver noticed the killed sender after ${ms} ms`);
  }, 20_000);

  it('errors a receiving stream when its sender dies after its last bytes arrived, with nothing owed to it', async () => {
    // The last packet the receiver hears carries stream bytes it sent nothing for (its credit goes
    // back in batches) and no keep-alive runs: only the open stream makes the silence count. Before,
    // this waited for QUIC's idle timeout (30 s). Any packet from the live sender after those bytes
    // clears what is owed: the burst waits for the handshake's last packets (the sender's ACK of
    // them came after the bytes on a loaded machine, 4 runs in 5), and the sender sends no
    // keep-alives. A long deadPeerMs leaves the kill 4 s before the receiver's first probe.
    const { victim, stream, received } = await acceptStreamFrom(
      (peer) => setTimeout(() => peer.send({ cmd: 'send-burst', bytes: 48 * 1024 }), 1_000),
      { deadPeerMs: 10_000, keepAliveMs: 0 },
      { keepAliveMs: 0 },
    );
    while (received() < 48 * 1024) await sleep(20);
    const ms = await expectNoticedKill(stream, victim, 20_000);
    console.log(
      `dead-peer: receiver noticed the sender killed after its last bytes after ${ms} ms (deadPeerMs 10000)`,
    );
  }, 45_000);

  it('fails a dial to an address where nothing answers within deadPeerMs, saying so', async () => {
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    const endpoint = await QuicEndpoint.listen({
      host: '127.0.0.1',
      identity: await generateIdentity(),
      options: { deadPeerMs: 2_000 },
    });
    endpoints.push(endpoint);
    try {
      const started = Date.now();
      const port = silent.address().port;
      const attempt = endpoint.connect({ host: '127.0.0.1', port, expectedFingerprint: 'ab'.repeat(32) });
      await expect(attempt).rejects.toThrow(QuicConnectError);
      await expect(attempt).rejects.toThrow(`nothing answers at 127.0.0.1:${port} (no reply for 2.0 s)`);
      const ms = Date.now() - started;
      // The handshake timeout is 10 s.
      expect(ms).toBeGreaterThanOrEqual(1_900);
      expect(ms).toBeLessThan(4_000);
      console.log(`dead-peer: a dial to a silent port failed after ${ms} ms (deadPeerMs 2000)`);
    } finally {
      silent.close();
    }
  }, 20_000);

  it('keeps an idle connection to a live peer, without the two probing each other', async () => {
    const options = { deadPeerMs: 600, keepAliveMs: 0 };
    const { conn } = await connectToPeer(options, options);
    expect((await roundTrip(conn, Buffer.from('one'))).toString()).toBe('one');
    await sleep(1_000);
    const before = (await conn.stats())!.sentPackets;
    // Ten silences' worth of idleness: at most a probe and the ACK of the peer's probe.
    await sleep(3_000);
    const after = (await conn.stats())!.sentPackets;
    expect(conn.closed).toBe(false);
    expect(after - before).toBeLessThanOrEqual(2);
    expect((await roundTrip(conn, Buffer.from('two'))).toString()).toBe('two');
  }, 20_000);

  it('keeps a connection whose peer answers keep-alives, past many deadPeerMs', async () => {
    const { conn } = await connectToPeer({ deadPeerMs: 500, keepAliveMs: 200 });
    await sleep(3_000);
    expect(conn.closed).toBe(false);
    expect((await roundTrip(conn, Buffer.alloc(256 * 1024, 7))).length).toBe(256 * 1024);
  }, 20_000);
});
