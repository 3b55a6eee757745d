import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { RelayClient, type RelayClientOptions } from '@mesh-agent/host/nat';
import WebSocket, { WebSocketServer } from 'ws';
import { mintRelayGrant, RelayHub, type RelayLimits } from '../src/index.js';

export interface Received {
  data: Buffer;
  isBinary: boolean;
}

/** A bare WebSocket to the relay that records everything, for speaking the protocol by hand. */
export class RawRelaySocket {
  readonly messages: Received[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #wake: (() => void) | undefined;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      this.messages.push({ data: data as Buffer, isBinary });
      this.#wake?.();
    });
    ws.on('error', () => {});
    this.closed = once(ws, 'close').then(([code, reason]) => ({
      code: code as number,
      reason: String(reason),
    }));
  }

  send(data: string | Buffer): void {
    this.ws.send(data);
  }

  bind(grant: string): void {
    this.send(JSON.stringify({ type: 'relay.bind', grant }));
  }

  /** The next text message, parsed (waits up to 5 s). */
  async nextJson(): Promise<Record<string, unknown>> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const index = this.messages.findIndex((m) => !m.isBinary);
      if (index >= 0) {
        const [message] = this.messages.splice(index, 1);
        return JSON.parse((message as Received).data.toString('utf8')) as Record<string, unknown>;
      }
      if (Date.now() > deadline) throw new Error('no text message within 5 s');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }
}

/**
 * A hub mounted the way the signal server will mount it: `hub.handle` on an existing
 * WebSocketServer (whose payload cap is larger than the hub's), plus grants and clients.
 */
export class RelayHarness {
  readonly secret = randomBytes(32);
  /** Server-side sockets, in the order they connected. */
  readonly serverSockets: WebSocket[] = [];
  hub!: RelayHub;
  url!: string;
  #wss: WebSocketServer | undefined;
  readonly #clients: RelayClient[] = [];
  readonly #raw: RawRelaySocket[] = [];

  async start(limits: Partial<RelayLimits> = {}): Promise<void> {
    this.hub = new RelayHub({ secret: this.secret, limits });
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 1024 * 1024 });
    this.#wss = wss;
    wss.on('connection', (ws, request) => {
      this.serverSockets.push(ws);
      this.hub.handle(ws, request.socket.remoteAddress ?? '?');
    });
    await once(wss, 'listening');
    const { port } = wss.address() as { port: number };
    this.url = `ws://127.0.0.1:${port}/relay`;
  }

  grant(sessionId: string, agentId: string, peerId: string, ttlMs = 60_000): string {
    return mintRelayGrant(this.secret, { sessionId, agentId, peerId, expiresAt: Date.now() + ttlMs });
  }

  /** Grants for both agents of a new session. */
  pair(a = 'alice', b = 'bob'): { sessionId: string; a: string; b: string } {
    const sessionId = randomUUID();
    return { sessionId, a: this.grant(sessionId, a, b), b: this.grant(sessionId, b, a) };
  }

  client(grant: string, options: Partial<RelayClientOptions> = {}): RelayClient {
    const client = new RelayClient({ url: this.url, grant, connectTimeoutMs: 5_000, ...options });
    this.#clients.push(client);
    return client;
  }

  async connected(grant: string, options: Partial<RelayClientOptions> = {}): Promise<RelayClient> {
    const client = this.client(grant, options);
    await client.connect();
    return client;
  }

  async raw(): Promise<RawRelaySocket> {
    const ws = new WebSocket(this.url, { perMessageDeflate: false });
    const raw = new RawRelaySocket(ws);
    this.#raw.push(raw);
    await once(ws, 'open');
    return raw;
  }

  async stop(): Promise<void> {
    await Promise.all(this.#clients.map((c) => c.close()));
    for (const raw of this.#raw) raw.ws.terminate();
    await this.hub?.close();
    await new Promise((resolve) => this.#wss?.close(resolve));
  }
}

/** Collects a client's datagrams. */
export function collect(client: RelayClient): Buffer[] {
  const received: Buffer[] = [];
  client.on('datagram', (d) => received.push(d));
  return received;
}

/** Polls `condition` every 10 ms until it holds (or fails after `timeoutMs`). */
export async function until(condition: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
