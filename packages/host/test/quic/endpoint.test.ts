import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AgentIdentity, generateIdentity } from '../../src/identity/identity.js';
import {
  FingerprintMismatchError,
  type QuicConnection,
  QuicConnectionClosedError,
  QuicEndpoint,
  type QuicStream,
} from '../../src/quic/index.js';
import { PeerProcess } from './fixtures/spawn-peer.js';

/** Sends `payload` on a new stream and resolves with everything read back until the peer's end. */
async function roundTrip(conn: QuicConnection, payload: Buffer): Promise<Buffer> {
  const stream = conn.openStream();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
    stream.end(payload);
  });
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('QuicEndpoint against a peer in another process', () => {
  let identity: AgentIdentity;
  let endpoint: QuicEndpoint;
  let server: PeerProcess;

  beforeAll(async () => {
    identity = await generateIdentity();
    [endpoint, server] = await Promise.all([
      QuicEndpoint.listen({ host: '127.0.0.1', identity }),
      PeerProcess.start({ idleTimeoutMs: 5000 }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([endpoint?.close(), server?.stop()]);
  });

  it('completes mutual TLS and echoes 8 MiB intact; the server sees our real fingerprint', async () => {
    const conn = await endpoint.connect({
      host: '127.0.0.1',
      port: server.port,
      expectedFingerprint: server.fingerprint,
    });
    expect(conn.peerFingerprint).toBe(server.fingerprint);
    const seen = await server.next('connection');
    expect(seen.peerFingerprint).toBe(identity.fingerprint);
    expect(seen.remotePort).toBe(endpoint.address().port);

    const payload = randomBytes(8 * 1024 * 1024);
    const echoed = await roundTrip(conn, payload);
    expect(echoed.length).toBe(payload.length);
    expect(sha256(echoed)).toBe(sha256(payload));

    const stats = await conn.stats();
    expect(stats?.sentBytes).toBeGreaterThan(payload.length);
    expect(stats?.rttMs).toBeGreaterThanOrEqual(0);
    await conn.close();
    await server.next('close');
  });

  it.runIf(process.platform === 'linux')('runs the driver thread nicer than the main thread', () => {
    const nice = (tid: string) =>
      Number(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]);
    const main = nice(String(process.pid));
    const threads = readdirSync('/proc/self/task').map(nice);
    expect(threads).toContain(Math.min(19, main + 5));
  });

  it('rejects a server whose certificate differs from the pinned fingerprint, and closes that connection', async () => {
    const wrong = (await generateIdentity()).fingerprint;
    const attempt = endpoint.connect({ host: '127.0.0.1', port: server.port, expectedFingerprint: wrong });
    await expect(attempt).rejects.toBeInstanceOf(FingerprintMismatchError);
    await attempt.catch((error: FingerprintMismatchError) => {
      expect(error.expected).toBe(wrong);
      expect(error.actual).toBe(server.fingerprint);
    });
    // The server saw the handshake complete with our real certificate, then our close.
    const seen = await server.next('connection');
    expect(seen.peerFingerprint).toBe(identity.fingerprint);
    const closed = await server.next('close');
    expect(closed.byPeer).toBe(true);
    expect(closed.error).toMatch(/fingerprint mismatch/);
    await expect(
      endpoint.connect({ host: '127.0.0.1', port: server.port, expectedFingerprint: 'not-a-fingerprint' }),
    ).rejects.toThrow(/invalid certificate fingerprint/);
  });

  it('drops garbage datagrams without disturbing an established connection', async () => {
    const conn = await endpoint.connect({
      host: '127.0.0.1',
      port: server.port,
      expectedFingerprint: server.fingerprint,
    });
    await server.next('connection');
    server.send({ cmd: 'stats' });
    const before = await server.next('stats');

    const junk = dgram.createSocket('udp4');
    const garbage: Buffer[] = [Buffer.alloc(0), Buffer.from([0x40]), Buffer.from('hello')];
    for (let i = 0; i < 200; i++) {
      garbage.push(randomBytes(1 + (i % 1400)));
      const short = randomBytes(60);
      short[0] = 0x40; // looks like a short header
      garbage.push(short);
      const long = randomBytes(1250);
      long[0] = 0xc0; // looks like a long-header Initial
      long.writeUInt32BE(1, 1);
      garbage.push(long);
    }
    for (const datagram of garbage) junk.send(datagram, server.port, '127.0.0.1');
    await new Promise((resolve) => setTimeout(resolve, 200));
    junk.close();

    const payload = randomBytes(1024 * 1024);
    expect(sha256(await roundTrip(conn, payload))).toBe(sha256(payload));
    server.send({ cmd: 'stats' });
    const after = await server.next('stats');
    expect(after.droppedDatagrams - before.droppedDatagrams).toBeGreaterThanOrEqual(garbage.length - 200);
    expect(conn.closed).toBe(false);
    await conn.close();
    await server.next('close');
  });

  it('runs 100 concurrent streams on one connection, each intact', async () => {
    const conn = await endpoint.connect({
      host: '127.0.0.1',
      port: server.port,
      expectedFingerprint: server.fingerprint,
    });
    await server.next('connection');
    const payloads = Array.from({ length: 100 }, (_, i) => randomBytes(64 * 1024 + i * 997));
    const echoed = await Promise.all(payloads.map((p) => roundTrip(conn, p)));
    for (let i = 0; i < payloads.length; i++) expect(sha256(echoed[i]!)).toBe(sha256(payloads[i]!));
    await conn.close();
    await server.next('close');
  });

  it('delivers a graceful close code and reason to the peer, both ways', async () => {
    const conn = await endpoint.connect({
      host: '127.0.0.1',
      port: server.port,
      expectedFingerprint: server.fingerprint,
    });
    await server.next('connection');
    await conn.close(42, 'job done');
    const atServer = await server.next('close');
    expect(atServer).toEqual({ type: 'close', code: 42, reason: 'job done', byPeer: true });

    const second = await endpoint.connect({
      host: '127.0.0.1',
      port: server.port,
      expectedFingerprint: server.fingerprint,
    });
    await server.next('connection');
    const closed = new Promise((resolve) => second.once('close', resolve));
    server.send({ cmd: 'close-all', code: 7, reason: 'server leaving' });
    expect(await closed).toEqual({ code: 7, reason: 'server leaving', byPeer: true });
    await server.next('close');
    expect(() => second.openStream()).toThrow(QuicConnectionClosedError);
  });
});

describe('QuicEndpoint under failure and pressure', () => {
  const peers: PeerProcess[] = [];
  const endpoints: QuicEndpoint[] = [];
  afterEach(async () => {
    await Promise.all([
      ...peers.splice(0).map((p) => p.stop()),
      ...endpoints.splice(0).map((e) => e.close()),
    ]);
  });

  it('keeps a slow reader from making the sender buffer without bound', async () => {
    const reader = await PeerProcess.start({
      maxStreamWindow: 2 * 1024 * 1024,
      initialMaxStreamData: 1024 * 1024,
    });
    peers.push(reader);
    reader.send({ cmd: 'slow-read', delayMs: 2000 });
    const sender = await QuicEndpoint.listen({ host: '127.0.0.1', identity: await generateIdentity() });
    endpoints.push(sender);
    const conn = await sender.connect({
      host: '127.0.0.1',
      port: reader.port,
      expectedFingerprint: reader.fingerprint,
    });
    const stream = conn.openStream();
    const hash = createHash('sha256');
    const chunk = randomBytes(256 * 1024);
    let accepted = 0;
    const heapBefore = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    // Write as fast as the stream allows for 1.5 s while the reader sleeps.
    const until = Date.now() + 1500;
    while (Date.now() < until) {
      hash.update(chunk);
      accepted += chunk.length;
      if (!stream.write(chunk)) {
        const drained = await Promise.race([
          new Promise<boolean>((resolve) => stream.once('drain', () => resolve(true))),
          new Promise<boolean>((resolve) => setTimeout(() => resolve(false), until - Date.now())),
        ]);
        if (!drained) break;
      }
    }
    const growth = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers - heapBefore;
    // Bounded by flow-control windows and the stream's buffers (a few MiB), not by the 1.5 s of writing.
    expect(accepted).toBeLessThan(16 * 1024 * 1024);
    expect(growth).toBeLessThan(48 * 1024 * 1024);
    expect(stream.writableNeedDrain).toBe(true);
    stream.end();
    const result = await reader.next('slow-read-result', 20_000);
    expect(result.bytes).toBe(accepted);
    expect(result.sha256).toBe(hash.digest('hex'));
  });

  it('errors the stream of a peer killed mid-transfer within the idle timeout, and keeps serving others', async () => {
    const serverIdentity = await generateIdentity();
    const fingerprint = serverIdentity.fingerprint;
    const server = await QuicEndpoint.listen({
      host: '127.0.0.1',
      identity: serverIdentity,
      options: { idleTimeoutMs: 1500, keepAliveMs: 400 },
    });
    endpoints.push(server);
    // The first stream (the victim's) is counted; later ones are echoed.
    let victimStream: QuicStream | null = null;
    let received = 0;
    server.on('connection', (conn) => {
      conn.on('stream', (stream) => {
        if (victimStream) {
          stream.pipe(stream);
          return;
        }
        victimStream = stream;
        stream.on('data', (chunk: Buffer) => {
          received += chunk.length;
        });
      });
    });
    const victim = await PeerProcess.start({ idleTimeoutMs: 1500 });
    peers.push(victim);
    victim.send({ cmd: 'connect', port: server.address().port, fingerprint });
    await victim.next('connected');
    victim.send({ cmd: 'send-forever' });
    await victim.next('sending');
    while (received < 1024 * 1024) await new Promise((resolve) => setTimeout(resolve, 20));
    const stream = victimStream!;
    const failed = new Promise<Error>((resolve) => stream.once('error', resolve));
    const killedAt = Date.now();
    victim.kill();
    const error = await failed;
    expect(error).toBeInstanceOf(QuicConnectionClosedError);
    expect(error.message).toMatch(/idle timeout/);
    expect(Date.now() - killedAt).toBeLessThan(4000);

    const next = await PeerProcess.start();
    peers.push(next);
    next.send({ cmd: 'connect', port: server.address().port, fingerprint });
    await next.next('connected');
    next.send({ cmd: 'echo-check', bytes: 2 * 1024 * 1024 });
    expect((await next.next('echo-result')).ok).toBe(true);
  });
});
