import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Host } from '../../src/host/host.js';
import { derivedAgentId } from '../../src/identity/agent-id.js';
import { HandshakeDeniedError, StreamRejectedError } from '../../src/p2p/errors.js';
import { FrameChannel } from '../../src/wire/channel.js';
import { TempDirs } from '../helpers/cli.js';
import { directSession, startHost } from '../helpers/hosts.js';

describe('P2P handshake and stream dispatch over real QUIC on loopback', () => {
  const dirs = new TempDirs();
  let bob: Host;
  let alice: Host;
  let mallory: Host;

  beforeAll(async () => {
    [bob, alice, mallory] = await Promise.all([
      startHost(dirs, 'bob'),
      startHost(dirs, 'alice'),
      startHost(dirs, 'mallory'),
    ]);
  });
  afterAll(async () => {
    await Promise.all([bob?.stop(), alice?.stop(), mallory?.stop()]);
    await dirs.cleanup();
  });

  const deniedWith = (reason: string) => expect.objectContaining({ name: 'HandshakeDeniedError', reason });

  it('opens a session with a valid token and echoes over a stream', async () => {
    const target = directSession(bob, 'ok-1', {
      peerId: 'alice',
      peerFingerprint: alice.identity.fingerprint,
    });
    const { peer, connection, channel } = await alice.openStream(target, 'echo');
    // Direct mode: nobody vouches for an id, so the peer is named after its certificate.
    expect(peer.agentId).toBe(derivedAgentId(bob.identity.fingerprint));
    await channel.send({ type: 'ECHO', n: 1 }, Buffer.from('hello'));
    const reply = await channel.next(['ECHO']);
    expect(reply.body.toString()).toBe('hello');
    await channel.end();
    await connection.close();
  });

  it('denies an unknown session, a wrong token, a reused and an expired token', async () => {
    const target = directSession(bob, 'deny-1');
    await expect(alice.connect({ ...target, sessionId: 'nope' }, 'echo')).rejects.toEqual(
      deniedWith('unknown'),
    );
    await expect(alice.connect({ ...target, token: 'wrong-token-0123456789' }, 'echo')).rejects.toEqual(
      deniedWith('bad-token'),
    );
    const first = await alice.connect(target, 'echo');
    await first.close();
    await expect(alice.connect(target, 'echo')).rejects.toEqual(deniedWith('used'));
    const expired = directSession(bob, 'deny-2', { ttlMs: 50 });
    await new Promise((r) => setTimeout(r, 100));
    await expect(alice.connect(expired, 'echo')).rejects.toEqual(deniedWith('expired'));
  });

  it('denies a session presented by another agent, or from another certificate', async () => {
    const forAlice = directSession(bob, 'deny-3', { peerId: 'alice' });
    await expect(mallory.connect(forAlice, 'echo')).rejects.toEqual(deniedWith('wrong-agent'));
    const pinned = directSession(bob, 'deny-4', { peerFingerprint: alice.identity.fingerprint });
    await expect(mallory.connect(pinned, 'echo')).rejects.toEqual(deniedWith('wrong-fingerprint'));
  });

  it('refuses a responder whose certificate is not the pinned one', async () => {
    const target = directSession(bob, 'pin-1');
    const wrong = { ...target, fingerprint: mallory.identity.fingerprint };
    await expect(alice.connect(wrong, 'echo')).rejects.toMatchObject({ name: 'FingerprintMismatchError' });
    // The token was not spent on the failed attempt.
    const ok = await alice.connect(target, 'echo');
    await ok.close();
  });

  it("reports each connected peer's QUIC statistics in the daemon status", async () => {
    const peer = await alice.connect(directSession(bob, 'stats-1'), 'echo');
    const channel = await peer.openStream('echo');
    await channel.send({ type: 'ECHO', n: 1 }, Buffer.alloc(100_000));
    await channel.next(['ECHO']);
    const status = await bob.statusWithStats();
    const seen = status.peers.find((p) => p.agentId === derivedAgentId(alice.identity.fingerprint));
    expect(seen?.stats).toMatchObject({ rttMs: expect.any(Number), cwnd: expect.any(Number) });
    expect(seen?.stats?.recvBytes).toBeGreaterThan(100_000);
    expect(status.udp?.path).toMatch(/^(gso|sendmmsg|dgram)$/);
    await peer.close();
  });

  it('uses large datagrams toward a loopback peer without being told', async () => {
    const before = await bob.endpoint!.stats();
    const peer = await alice.connect(directSession(bob, 'loopback-1'), 'echo');
    const channel = await peer.openStream('echo');
    await channel.send({ type: 'ECHO', n: 1 }, Buffer.alloc(1_000_000));
    await channel.next(['ECHO']);
    const after = await bob.endpoint!.stats();
    const perDatagram = (after.bytesIn - before.bytesIn) / (after.datagramsIn - before.datagramsIn);
    expect(perDatagram).toBeGreaterThan(4_000);
    await peer.close();
  });

  it('rejects a stream type no plugin handles', async () => {
    const peer = await alice.connect(directSession(bob, 'reject-1'), 'echo');
    await expect(peer.openStream('nonexistent')).rejects.toBeInstanceOf(StreamRejectedError);
    await peer.close();
  });

  it('carries 100 concurrent streams on one connection', async () => {
    const peer = await alice.connect(directSession(bob, 'many-1'), 'echo');
    const payloads = Array.from({ length: 100 }, () => randomBytes(64 * 1024));
    const replies = await Promise.all(
      payloads.map(async (payload, n) => {
        const channel = await peer.openStream('echo');
        await channel.send({ type: 'ECHO', n }, payload);
        const reply = await channel.next(['ECHO']);
        await channel.end();
        return reply;
      }),
    );
    replies.forEach((reply, n) => {
      expect(reply.header.n).toBe(n);
      expect(reply.body.equals(payloads[n] as Buffer)).toBe(true);
    });
    await peer.close();
  });

  it('drops garbage datagrams and keeps serving', async () => {
    const socket = createSocket('udp4');
    for (let i = 0; i < 50; i++)
      socket.send(randomBytes(1 + ((i * 37) % 1400)), bob.endpoint!.address().port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 100));
    socket.close();
    const peer = await alice.connect(directSession(bob, 'garbage-1'), 'echo');
    const channel = await peer.openStream('echo');
    await channel.send({ type: 'ECHO', n: 7 });
    expect((await channel.next(['ECHO'])).header.n).toBe(7);
    await peer.close();
  });

  it('disconnects a peer that sends a frame of length 2^32-1, and only that peer', async () => {
    const bystander = await mallory.connect(directSession(bob, 'huge-0'), 'echo');
    const peer = await alice.connect(directSession(bob, 'huge-1'), 'echo');
    const closed = once(peer.quic, 'close');
    const raw = peer.quic.openStream();
    raw.on('error', () => {});
    raw.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 2]));
    const [event] = (await closed) as [{ reason?: string; byPeer?: boolean }];
    expect(event.reason).toMatch(/protocol error: frame of 4294967295 bytes exceeds/);
    const channel = await bystander.openStream('echo');
    await channel.send({ type: 'ECHO', n: 1 });
    expect((await channel.next(['ECHO'])).header.n).toBe(1);
    await bystander.close();
  });

  it('disconnects a peer that opens streams before the handshake', async () => {
    const conn = await alice.endpoint!.connect({
      host: '127.0.0.1',
      port: bob.endpoint!.address().port,
      expectedFingerprint: bob.identity.fingerprint,
    });
    const closed = once(conn, 'close');
    const first = new FrameChannel(conn.openStream(), { registry: alice.messages });
    const second = new FrameChannel(conn.openStream(), { registry: alice.messages });
    await second.send({ type: 'STREAM_OPEN', stream_type: 'echo' });
    await first.send({ type: 'STREAM_OPEN', stream_type: 'echo' });
    const [event] = (await closed) as [{ reason?: string }];
    expect(event.reason).toMatch(/handshake|P2P_HELLO|stream/);
  });

  it('denies a hello on a connection to a host with no such session and never leaks the token in errors', async () => {
    const target = directSession(bob, 'leak-1');
    const error = await alice
      .connect({ ...target, token: 'secret-never-logged-0123' }, 'echo')
      .catch((e: Error) => e);
    expect(error).toBeInstanceOf(HandshakeDeniedError);
    expect(String((error as Error).message)).not.toContain('secret-never-logged');
  });
});

describe('QUIC endpoints sharing one process', () => {
  it('drive at most one endpoint from a worker thread (the addon crashes with two)', async () => {
    const dirs = new TempDirs();
    const hosts = await Promise.all([startHost(dirs, 'w1'), startHost(dirs, 'w2')]);
    try {
      const drivers = hosts.map((h) => h.endpoint!.options.driver).sort();
      expect(drivers).toEqual(['inline', 'worker']);
    } finally {
      await Promise.all(hosts.map((h) => h.stop()));
      await dirs.cleanup();
    }
  });
});
