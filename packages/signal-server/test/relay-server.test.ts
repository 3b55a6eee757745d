import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { get } from 'node:http';
import { Worker } from 'node:worker_threads';
import { RELAY_CLOSE_CODES, RelayClient } from '@mesh-agent/host/nat';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { mintRelayGrant, RelayServer } from '../src/index.js';
import { collect, until } from './relay-helpers.js';

const secret = randomBytes(32);
let server: RelayServer | undefined;
const clients: RelayClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server?.stop();
  server = undefined;
});

async function listen(): Promise<string> {
  server = new RelayServer({
    port: 0,
    secret,
    limits: { maxDatagramBytes: 2_000 },
  });
  return (await server.start()).url;
}

function grants(): { a: string; b: string } {
  const sessionId = `s-${randomBytes(4).toString('hex')}`;
  const expiresAt = Date.now() + 60_000;
  return {
    a: mintRelayGrant(secret, { sessionId, agentId: 'alice', peerId: 'bob', expiresAt }),
    b: mintRelayGrant(secret, { sessionId, agentId: 'bob', peerId: 'alice', expiresAt }),
  };
}

async function connected(url: string, grant: string): Promise<RelayClient> {
  const client = new RelayClient({ url, grant });
  clients.push(client);
  await client.connect();
  return client;
}

describe('RelayServer', () => {
  it('serves the relay on /relay and nothing elsewhere', async () => {
    const url = await listen();
    expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/relay$/);
    const { a, b } = grants();
    const alice = await connected(url, a);
    const bob = await connected(`${url}?v=1`, b);
    const received = collect(bob);
    alice.send(Buffer.from('hello'));
    await until(() => received.length === 1);
    expect(received[0]?.toString()).toBe('hello');

    const elsewhere = new WebSocket(url.replace('/relay', '/other'));
    const [error] = await once(elsewhere, 'error');
    expect(String(error)).toMatch(/404/);
    const [response] = await once(get(url.replace('ws:', 'http:')), 'response');
    expect(response.statusCode).toBe(404);
    response.resume();
  });

  it('closes 1009 on a datagram over the limit before ws buffers it', async () => {
    const url = await listen();
    const { a, b } = grants();
    const alice = await connected(url, a);
    await connected(url, b);
    const closed = once(alice, 'close');
    alice.send(Buffer.alloc(4_097));
    expect((await closed)[0]).toBe(RELAY_CLOSE_CODES.tooLarge);
  });

  it('a RelayClient works on a worker thread', async () => {
    const url = await listen();
    const { a, b } = grants();
    const worker = new Worker(new URL('./fixtures/relay-echo-worker.mjs', import.meta.url), {
      workerData: { url, grant: b },
    });
    try {
      const [first] = await once(worker, 'message');
      expect(first).toEqual({ type: 'bound' });
      const alice = await connected(url, a);
      await until(() => alice.peerPresent);
      const echoed = collect(alice);
      const sent = Array.from({ length: 100 }, () => randomBytes(1350));
      for (const d of sent) alice.send(d);
      await until(() => echoed.length === sent.length);
      expect(echoed).toEqual(sent);
      worker.postMessage('close');
      expect((await once(worker, 'message'))[0]).toEqual({ type: 'closed', code: RELAY_CLOSE_CODES.normal });
    } finally {
      await worker.terminate();
    }
  });

  it('a RelayClient that cannot reach the relay rejects with "closed"', async () => {
    const url = await listen();
    await server?.stop();
    const client = new RelayClient({ url, grant: grants().a });
    await expect(client.connect()).rejects.toMatchObject({ name: 'RelayClientError', code: 'closed' });
  });

  it('a RelayClient gives up after its connect timeout', async () => {
    // A TCP server that accepts and never answers the WebSocket handshake.
    const { createServer } = await import('node:net');
    const silent = createServer(() => {}).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as { port: number };
    const client = new RelayClient({
      url: `ws://127.0.0.1:${port}/relay`,
      grant: 'g',
      connectTimeoutMs: 200,
    });
    try {
      await expect(client.connect()).rejects.toMatchObject({ code: 'timeout' });
    } finally {
      silent.close();
    }
  });
});
