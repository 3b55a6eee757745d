import { afterEach, describe, expect, it } from 'vitest';
import type { SignalServer } from '../src/server.js';
import { Harness, hello, type RawAgent } from './helpers.js';

let harness: Harness;
afterEach(async () => {
  await harness.dispose();
});

async function agent(url: string, id: string): Promise<RawAgent> {
  const raw = await harness.raw(url);
  expect((await raw.hello(hello(id))).type).toBe('system.welcome');
  return raw;
}

/** Retries until the server admits a connection again (it counts a socket as gone on its close). */
async function admittedAgain(url: string): Promise<RawAgent> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    try {
      return await harness.raw(url);
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

describe('limits the signaling server puts on its clients', () => {
  it('refuses connections from one address beyond maxConnectionsPerAddress (HTTP 503), and admits again once one closes', async () => {
    harness = new Harness();
    const { server, url } = await harness.server({ limits: { maxConnectionsPerAddress: 3 } });
    const open = [await harness.raw(url), await harness.raw(url), await harness.raw(url)];
    await expect(harness.raw(url)).rejects.toThrow(/503/);
    expect(server.health().connections_refused).toBe(1);
    open[0]?.ws.terminate();
    const again = await admittedAgain(url);
    expect(again.ws.readyState).toBe(again.ws.OPEN);
  });

  it('refuses connections beyond maxConnections, from any address', async () => {
    harness = new Harness();
    const { server, url } = await harness.server({ limits: { maxConnections: 2 } });
    await harness.raw(url);
    await harness.raw(url);
    await expect(harness.raw(url)).rejects.toThrow(/503/);
    expect(server.health()).toMatchObject({ connections_refused: 1 });
  });

  it('drops a client that stops reading, and keeps serving the others', async () => {
    harness = new Harness();
    const { server, url } = await harness.server({
      limits: { maxBufferedBytes: 256 * 1024 },
      rateLimit: { messagesPerSecond: 10_000, burst: 10_000 },
    });
    const reader = await agent(url, 'reader');
    const writer = await agent(url, 'writer');
    reader.ws.pause();
    const text = 'x'.repeat(60_000);
    const left = writer.next((e) => e.type === 'room.delta' && hasLeft(e.data, 'reader'), 10_000);
    // Far more than the kernel's socket buffers hold: the rest piles up in the server.
    for (let i = 0; i < 400 && !dropped(server); i++) {
      writer.send('blob.chunk', { to: 'reader', text });
      await new Promise((resolve) => setImmediate(resolve));
    }
    await left;
    expect(server.health().slow_clients_dropped).toBe(1);
    const id = writer.send('system.ping', {});
    await writer.next((e) => e.type === 'system.pong' && e.data.request_id === id);
  });

  it('rate-limits session requests per agent, so a flood cannot crowd out other agents', async () => {
    harness = new Harness();
    const { server, url } = await harness.server({
      limits: { sessionRequests: { messagesPerSecond: 1, burst: 5 } },
    });
    const bob = await agent(url, 'bob');
    const mallory = await agent(url, 'mallory');
    const alice = await agent(url, 'alice');
    const ids = Array.from({ length: 20 }, () =>
      mallory.send('p2p.request', { peer_id: 'bob', stream_type: 'file' }),
    );
    const answers = await Promise.all(
      ids.map((id) =>
        mallory.next(
          (e) =>
            (e.type === 'p2p.session' && e.data.request_id === id) ||
            (e.type === 'system.error' && e.data.ref_id === id),
        ),
      ),
    );
    const sessions = answers.filter((e) => e.type === 'p2p.session').length;
    const limited = answers.filter((e) => e.type === 'system.error' && e.data.code === 'rate_limited');
    // The burst, plus at most one token refilled while the requests arrived.
    expect(sessions).toBeGreaterThanOrEqual(5);
    expect(sessions).toBeLessThanOrEqual(6);
    expect(limited.length).toBe(20 - sessions);
    expect(limited[0]?.data.message).toMatch(/session requests/);
    expect(server.health().session_requests_limited).toBe(20 - sessions);
    // Another agent's request goes through, and mallory's own socket is still open.
    const request = alice.send('p2p.request', { peer_id: 'bob', stream_type: 'file' });
    const session = await alice.next((e) => e.type === 'p2p.session' && e.data.request_id === request);
    await bob.next((e) => e.type === 'p2p.session' && e.data.session_id === session.data.session_id);
    const ping = mallory.send('system.ping', {});
    await mallory.next((e) => e.type === 'system.pong' && e.data.request_id === ping);
  });
});

function hasLeft(data: unknown, agentId: string): boolean {
  const left = (data as { left?: unknown }).left;
  return Array.isArray(left) && left.includes(agentId);
}

function dropped(server: SignalServer): boolean {
  return server.health().slow_clients_dropped > 0;
}
