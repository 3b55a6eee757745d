import { randomUUID } from 'node:crypto';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { SignalingClient, SignalingClientError, type SignalingState } from '../../src/signaling/client.js';
import type { Envelope, HelloData } from '../../src/signaling/protocol.js';

const hello: HelloData = {
  agent_id: 'alice',
  version: '0.1.0',
  capabilities: ['file'],
  addresses: [{ address: '127.0.0.1', port: 4433 }],
  fingerprint: 'ab'.repeat(32),
  token: 'tok',
  // The fake server checks no proof; the real one is tested in the signal server's suite.
  certificate: 'A'.repeat(64),
  proof: 'B'.repeat(16),
};

/** A scripted stand-in for the signal server: records what the client sends, sends what the test says. */
class FakeServer {
  readonly received: Envelope[] = [];
  readonly sockets: WebSocket[] = [];
  /** Whether to answer a hello with a welcome. */
  welcome = true;
  #waiters: Array<() => void> = [];

  private constructor(readonly wss: WebSocketServer) {
    wss.on('connection', (ws) => {
      this.sockets.push(ws);
      this.send(ws, 'system.challenge', { nonce: 'n'.repeat(32) });
      ws.on('message', (raw) => {
        const envelope = JSON.parse(raw.toString()) as Envelope;
        this.received.push(envelope);
        if (envelope.type === 'system.hello' && this.welcome) {
          this.send(ws, 'system.welcome', {
            agent_id: envelope.data.agent_id,
            server_version: 't',
            session_ttl_s: 120,
          });
        }
        for (const wake of this.#waiters.splice(0)) wake();
      });
    });
  }

  static async start(port = 0): Promise<FakeServer> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port });
    await new Promise((resolve) => wss.once('listening', resolve));
    return new FakeServer(wss);
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.wss.address() as AddressInfo).port}`;
  }

  get last(): WebSocket {
    return this.sockets.at(-1)!;
  }

  send(ws: WebSocket, type: string, data: Record<string, unknown>, id: string = randomUUID()): string {
    ws.send(JSON.stringify({ type, id, data }));
    return id;
  }

  async next(match: (e: Envelope) => boolean, timeoutMs = 3_000): Promise<Envelope> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error('fake server: no matching message');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    await new Promise((resolve) => this.wss.close(resolve));
  }
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(options: Partial<ConstructorParameters<typeof SignalingClient>[0]> = {}) {
  const server = await FakeServer.start();
  cleanups.push(() => server.close());
  const client = new SignalingClient({ url: server.url, hello: () => hello, ...options });
  cleanups.push(() => client.stop());
  return { server, client };
}

describe('SignalingClient', () => {
  it('answers the challenge with system.hello and becomes connected on the welcome', async () => {
    const { server, client } = await setup();
    const states: SignalingState[] = [];
    client.on('state', (state) => states.push(state));
    expect(client.state).toBe('stopped');
    expect(() => client.send('system.ping', {})).toThrow(SignalingClientError);
    client.start();
    await client.whenConnected(3_000);
    expect(server.received[0]).toMatchObject({ type: 'system.hello', data: hello });
    expect(states).toEqual(['connecting', 'connected']);
    await client.stop();
    expect(states.at(-1)).toBe('stopped');
  });

  it('answers an invalid inbound event with system.error and keeps going', async () => {
    const { server, client } = await setup();
    const seen: string[] = [];
    client.onEvent((e) => seen.push(e.type));
    client.start();
    await client.whenConnected(3_000);
    const badId = server.send(server.last, 'room.members', { room: 'default', members: 'nope' });
    const answer = await server.next((e) => e.type === 'system.error' && e.data.ref_id === badId);
    expect(answer.data).toMatchObject({ code: 'invalid_event', message: expect.stringContaining('members') });
    server.last.send('not json');
    await server.next((e) => e.type === 'system.error' && e.data.code === 'invalid_json');
    // An invalid error is logged, never answered (no error ping-pong).
    server.send(server.last, 'system.error', { message: 'no code' });
    server.send(server.last, 'room.members', { room: 'default', members: [] });
    await expect.poll(() => seen).toContain('room.members');
    expect(server.received.filter((e) => e.type === 'system.error')).toHaveLength(2);
    expect(seen).not.toContain('system.error');
    expect(client.state).toBe('connected');
  });

  it('routes by prefix, survives throwing handlers, and answers pings', async () => {
    const { server, client } = await setup();
    const got: string[] = [];
    client.route('term', () => {
      throw new Error('plugin bug');
    });
    client.route('term.*', (e) => got.push(`plane:${e.type}`));
    const off = client.route('p2p.session', (e) => got.push(`exact:${e.type}`));
    client.route('ter', (e) => got.push(`wrong:${e.type}`));
    client.start();
    await client.whenConnected(3_000);
    server.send(server.last, 'term.data', { from: 'bob', from_conn: 'c', x: 1 });
    server.send(server.last, 'terminal.data', { from: 'bob', from_conn: 'c' });
    const pingId = server.send(server.last, 'system.ping', {});
    await server.next((e) => e.type === 'system.pong' && e.data.request_id === pingId);
    expect(got).toEqual(['plane:term.data']);
    off();
    expect(client.state).toBe('connected');
  });

  it('resolves a request with the answer naming its id, and times out otherwise', async () => {
    const { server, client } = await setup();
    client.start();
    await client.whenConnected(3_000);
    const pending = client.request('room.members', { room: 'default' }, { timeoutMs: 2_000 });
    const asked = await server.next((e) => e.type === 'room.members');
    server.send(server.last, 'room.members', { room: 'other', members: [] });
    server.send(server.last, 'system.error', { code: 'not_in_room', message: 'no', ref_id: asked.id });
    await expect(pending).resolves.toMatchObject({ type: 'system.error', data: { ref_id: asked.id } });
    await expect(
      client.request('room.members', { room: 'default' }, { timeoutMs: 100 }),
    ).rejects.toMatchObject({
      code: 'timeout',
    });
    await expect(
      client.request('p2p.request', { peer_id: 'bad id', stream_type: 'file' }),
    ).rejects.toMatchObject({
      code: 'invalid_event',
    });
  });

  it('fails pending requests when the connection drops, then reconnects with a fresh hello', async () => {
    let calls = 0;
    const { server, client } = await setup({
      hello: () => ({ ...hello, version: `v${++calls}` }),
      backoff: { initialMs: 50, maxMs: 200 },
    });
    client.start();
    await client.whenConnected(3_000);
    const pending = client.request('room.members', { room: 'default' });
    await server.next((e) => e.type === 'room.members');
    server.last.terminate();
    await expect(pending).rejects.toMatchObject({ code: 'disconnected' });
    await expect.poll(() => server.received.filter((e) => e.type === 'system.hello').length).toBe(2);
    await client.whenConnected(3_000);
    expect(server.received.filter((e) => e.type === 'system.hello').map((e) => e.data.version)).toEqual([
      'v1',
      'v2',
    ]);
  });

  it('drops a silent connection after the heartbeat timeout', async () => {
    const { server, client } = await setup({
      heartbeat: { intervalMs: 100, timeoutMs: 300 },
      backoff: { initialMs: 50 },
    });
    client.start();
    await client.whenConnected(3_000);
    await server.next((e) => e.type === 'system.ping');
    // The fake server never answers pings, so the client must give up on it and dial again.
    await expect.poll(() => server.sockets.length, { timeout: 3_000 }).toBe(2);
  });

  it('keeps retrying with backoff while the server is down', async () => {
    const { server, client } = await setup({ backoff: { initialMs: 40, maxMs: 80 } });
    const port = Number(new URL(server.url).port);
    await server.close();
    const states: SignalingState[] = [];
    client.on('state', (s) => states.push(s));
    client.start();
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(client.state).toBe('connecting');
    const revived = await FakeServer.start(port);
    cleanups.push(() => revived.close());
    await client.whenConnected(3_000);
    expect(states.at(-1)).toBe('connected');
  });

  it('stops for good when the server refuses the agent', async () => {
    const { server, client } = await setup();
    server.welcome = false;
    server.wss.on('connection', (ws) => {
      ws.once('message', () => {
        server.send(ws, 'system.error', {
          code: 'unauthorized',
          message: 'authentication failed: bad token',
        });
        ws.close(4401, 'unauthorized');
      });
    });
    const rejected = new Promise((resolve) => client.once('rejected', resolve));
    client.start();
    await expect(client.whenConnected(3_000)).rejects.toMatchObject({ code: 'rejected' });
    expect(await rejected).toMatchObject({
      code: 'unauthorized',
      message: 'authentication failed: bad token',
    });
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(server.sockets).toHaveLength(1);
    expect(client.state).toBe('stopped');
  });

  it('refuses to send a malformed hello', async () => {
    const { server, client } = await setup({ hello: () => ({ ...hello, fingerprint: 'xyz' }) });
    const rejected = new Promise<{ message: string }>((resolve) => client.once('rejected', resolve));
    client.start();
    expect((await rejected).message).toMatch(/fingerprint/);
    expect(client.state).toBe('stopped');
    expect(server.received).toEqual([]);
  });

  it('gives up waiting at once when nothing listens, and still connects once a server appears', async () => {
    const { server, client } = await setup({ backoff: { initialMs: 40, maxMs: 80 } });
    const url = server.url;
    await server.close();
    client.start();
    const started = Date.now();
    await expect(client.whenConnected(5_000)).rejects.toMatchObject({ code: 'refused', url });
    expect(Date.now() - started).toBeLessThan(1_000);
    const revived = await FakeServer.start(Number(new URL(url).port));
    cleanups.push(() => revived.close());
    await expect(client.whenConnected(3_000)).resolves.toMatchObject({ agent_id: 'alice' });
  });

  it('tells an unknown host apart from a refused connection', async () => {
    const url = 'ws://no-such-host.invalid:7300';
    const client = new SignalingClient({ url, hello: () => hello });
    cleanups.push(() => client.stop());
    client.start();
    await expect(client.whenConnected(5_000)).rejects.toMatchObject({ code: 'unknown_host', url });
  });

  it('with several servers, gives up only when none of them can be reached', async () => {
    const live = await FakeServer.start();
    cleanups.push(() => live.close());
    const dead = await FakeServer.start();
    const deadUrl = dead.url;
    await dead.close();
    const client = new SignalingClient({ url: [deadUrl, live.url], hello: () => hello });
    cleanups.push(() => client.stop());
    client.start();
    await expect(client.whenConnected(3_000)).resolves.toMatchObject({ agent_id: 'alice' });
    expect(client.url).toBe(live.url);
  });

  it('times out naming the server when it accepts connections but never answers', async () => {
    const accepted: Socket[] = [];
    const silent = createServer((socket) => accepted.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      for (const socket of accepted) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    });
    const url = `ws://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const client = new SignalingClient({ url, hello: () => hello });
    cleanups.push(() => client.stop());
    client.start();
    const error = await client.whenConnected(300).catch((e: SignalingClientError) => e);
    expect(error).toMatchObject({ code: 'connect_timeout', url });
    expect((error as Error).message).toBe(`no answer from the signaling server at ${url} within 0.3 s`);
  });

  it('rejects URLs that are not ws:// or wss://', () => {
    expect(() => new SignalingClient({ url: 'http://x', hello: () => hello })).toThrow(/ws:\/\//);
    expect(() => new SignalingClient({ url: 'nope', hello: () => hello })).toThrow(TypeError);
  });
});
