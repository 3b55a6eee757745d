import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Host } from '../../src/host/host.js';
import { StreamRejectedError } from '../../src/p2p/errors.js';
import { definePlugin } from '../../src/plugins/types.js';
import type { QuicConnection } from '../../src/quic/index.js';
import { TempDirs } from '../helpers/cli.js';
import { directSession, echoPlugin, startHost } from '../helpers/hosts.js';

/** A second stream type, so a session granted for `echo` has something else to try. */
const notePlugin = definePlugin({
  name: 'note',
  apply(host) {
    host.hooks.stream.for('note').tapPromise('note', async ({ channel }) => {
      await channel.end();
      return true;
    });
  },
});

/** Resolves when the responder has torn down `stream` (reset, or closed while we still wait). */
const torn = (stream: NodeJS.ReadWriteStream & { destroyed: boolean }) =>
  new Promise<void>((resolve) => {
    stream.on('error', () => resolve());
    stream.on('close', () => resolve());
    stream.on('end', () => resolve());
    (stream as NodeJS.ReadableStream).resume();
  });

describe('limits a responder puts on peers before and after authentication', () => {
  const dirs = new TempDirs();
  let bob: Host;
  let alice: Host;

  beforeAll(async () => {
    [bob, alice] = await Promise.all([
      startHost(dirs, 'bob', {
        plugins: [echoPlugin, notePlugin],
        quic: { maxIncomingPerAddress: 3, handshakeTimeoutMs: 1_500 },
        p2p: { streamOpenTimeoutMs: 500, maxStreamsPerPeer: 4 },
      }),
      startHost(dirs, 'alice', { quic: { handshakeTimeoutMs: 1_500 } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([bob?.stop(), alice?.stop()]);
    await dirs.cleanup();
  });

  const dialBob = () =>
    alice.endpoint!.connect({
      host: '127.0.0.1',
      port: bob.endpoint!.address().port,
      expectedFingerprint: bob.identity.fingerprint,
    });

  it('turns away connections from one address beyond maxIncomingPerAddress, and admits again once one closes', async () => {
    const open: QuicConnection[] = [];
    for (let i = 0; i < 3; i++) open.push(await dialBob());
    await expect(dialBob()).rejects.toThrow();
    expect((await bob.endpoint!.stats()).refusedConnections).toBeGreaterThan(0);
    await open.pop()!.close();
    await new Promise((r) => setTimeout(r, 100));
    open.push(await dialBob());
    await Promise.all(open.map((c) => c.close()));
  });

  it('closes a connection whose handshake frame is larger than a few KiB', async () => {
    const conn = await dialBob();
    const closed = once(conn, 'close');
    const stream = conn.openStream();
    stream.on('error', () => {});
    const frame = Buffer.alloc(6);
    frame.writeUInt32BE(5 * 1024, 0);
    frame.writeUInt16BE(100, 4);
    stream.write(frame);
    const [event] = (await closed) as [{ reason?: string }];
    expect(event.reason).toMatch(/exceeds the 4096-byte limit/);
  });

  it('still completes a normal handshake', async () => {
    const peer = await alice.connect(directSession(bob, 'limits-ok'), 'echo');
    await peer.close();
  });

  it('closes streams that never finish their STREAM_OPEN: idle after two bytes, or half-sent', async () => {
    const peer = await alice.connect(directSession(bob, 'limits-idle'), 'echo');
    const idle = peer.quic.openStream();
    idle.write(Buffer.from([0, 0]));
    const half = peer.quic.openStream();
    const open = Buffer.from('{"type":"STREAM_OPEN","stream_type":"echo"}');
    const frame = Buffer.alloc(6);
    frame.writeUInt32BE(open.length + 2, 0);
    frame.writeUInt16BE(open.length, 4);
    half.write(Buffer.concat([frame, open.subarray(0, 10)]));
    const started = Date.now();
    await Promise.all([torn(idle), torn(half)]);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(peer.quic.closed).toBe(false);
    await peer.close();
  });

  it('resets streams beyond maxStreamsPerPeer and serves again once they end', async () => {
    const peer = await alice.connect(directSession(bob, 'limits-many'), 'echo');
    const held = await Promise.all(Array.from({ length: 4 }, () => peer.openStream('echo')));
    await expect(peer.openStream('echo')).rejects.toThrow();
    await Promise.all(held.map((c) => c.end()));
    await new Promise((r) => setTimeout(r, 200));
    const again = await peer.openStream('echo');
    await again.end();
    await peer.close();
  });

  it('refuses a stream of another type than the session was granted for', async () => {
    const peer = await alice.connect(directSession(bob, 'limits-type', { streamType: 'echo' }), 'echo');
    const echo = await peer.openStream('echo');
    await echo.end();
    const refused = await peer.openStream('note').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(StreamRejectedError);
    expect((refused as Error).message).toMatch(/granted for "echo" streams, not "note"/);
    await peer.close();
  });

  it('resets streams the peer opens on a session this agent initiated', async () => {
    const target = directSession(bob, 'limits-role');
    bob.tokens.add({ ...bob.tokens.get('limits-role')!, role: 'initiator' });
    const peer = await alice.connect(target, 'echo');
    await expect(peer.openStream('echo')).rejects.toThrow();
    await peer.close();
  });

  it('a oneshot host serves no stream type, even to a peer holding a valid session', async () => {
    const oneshot = await startHost(dirs, 'oneshot', { mode: 'oneshot' });
    try {
      const peer = await alice.connect(directSession(oneshot, 'limits-oneshot'), 'echo');
      await expect(peer.openStream('echo')).rejects.toBeInstanceOf(StreamRejectedError);
      await peer.close();
    } finally {
      await oneshot.stop();
    }
  });
});
