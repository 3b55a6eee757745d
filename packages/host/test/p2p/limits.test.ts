import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Host } from '../../src/host/host.js';
import type { QuicConnection } from '../../src/quic/index.js';
import { TempDirs } from '../helpers/cli.js';
import { directSession, startHost } from '../helpers/hosts.js';

describe('limits a responder puts on peers before and after authentication', () => {
  const dirs = new TempDirs();
  let bob: Host;
  let alice: Host;

  beforeAll(async () => {
    [bob, alice] = await Promise.all([
      startHost(dirs, 'bob', { quic: { maxIncomingPerAddress: 3, handshakeTimeoutMs: 1_500 } }),
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
});
