import { randomUUID } from 'node:crypto';
import {
  type AgentIdentity,
  DEFAULT_ROOM,
  type Envelope,
  generateIdentity,
  type HelloData,
  type Member,
  SignalingClient,
  type SignalingClientOptions,
  signHelloProof,
} from '@mesh-agent/host';
import WebSocket from 'ws';
import { SignalServer, type SignalServerOptions } from '../src/index.js';

export const TOKEN = 'test-token-0123456789abcdef';

/** A hello before its proof: the proof signs the nonce each connection is challenged with. */
export type HelloFields = Omit<HelloData, 'certificate' | 'proof'>;

// Real keys, made up front: every hello must prove its key, and key generation is async.
const POOL_SIZE = 48;
const identities = await Promise.all(Array.from({ length: POOL_SIZE }, () => generateIdentity()));
const byFingerprint = new Map(identities.map((identity) => [identity.fingerprint, identity]));
let nextIdentity = 0;

/** A fresh identity (a real key and certificate). */
export function identity(): AgentIdentity {
  const fresh = identities[nextIdentity++];
  if (!fresh) throw new Error(`test identity pool (${POOL_SIZE}) exhausted; raise POOL_SIZE`);
  return fresh;
}

/** The fingerprint of a fresh identity. */
export function fingerprint(): string {
  return identity().fingerprint;
}

export function hello(agentId: string, overrides: Partial<HelloFields> = {}): HelloFields {
  return {
    agent_id: agentId,
    version: '0.1.0-test',
    capabilities: ['file'],
    addresses: [{ address: '127.0.0.1', port: 40_000 + Math.floor(Math.random() * 20_000) }],
    fingerprint: fingerprint(),
    token: TOKEN,
    ...overrides,
  };
}

/** The hello with its proof for `nonce`, signed by the key its fingerprint names. */
export function signed(fields: HelloFields, nonce: string, signer?: AgentIdentity): HelloData {
  const key = signer ?? byFingerprint.get(fields.fingerprint);
  if (!key) throw new Error(`no test identity has fingerprint ${fields.fingerprint}`);
  return { ...fields, ...signHelloProof(key, nonce, fields.agent_id, fields.fingerprint) };
}

/** Starts what a test needs and tears all of it down afterwards. */
export class Harness {
  readonly #servers: SignalServer[] = [];
  readonly #clients: SignalingClient[] = [];
  readonly #raw: WebSocket[] = [];

  async server(
    options: Partial<SignalServerOptions> = {},
  ): Promise<{ server: SignalServer; url: string; port: number }> {
    // Any room by default, so tests of room mechanics need no token set-up; room limits are tested apart.
    const server = new SignalServer({
      host: '127.0.0.1',
      port: 0,
      tokens: [{ token: TOKEN, rooms: '*' }],
      ...options,
    });
    this.#servers.push(server);
    const { url, port } = await server.start();
    return { server, url, port };
  }

  client(
    url: string | readonly string[],
    helloData: HelloFields,
    options: Partial<SignalingClientOptions> = {},
  ): SignalingClient {
    const client = new SignalingClient({ url, hello: ({ nonce }) => signed(helloData, nonce), ...options });
    this.#clients.push(client);
    client.start();
    return client;
  }

  async connected(url: string, helloData: HelloFields): Promise<SignalingClient> {
    const client = this.client(url, helloData);
    await client.whenConnected(5_000);
    return client;
  }

  async raw(url: string): Promise<RawAgent> {
    const ws = new WebSocket(url);
    this.#raw.push(ws);
    const agent = new RawAgent(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return agent;
  }

  async dispose(): Promise<void> {
    for (const ws of this.#raw) ws.terminate();
    await Promise.all(this.#clients.map((c) => c.stop()));
    await Promise.all(this.#servers.map((s) => s.stop()));
  }
}

/** Resolves with the client's first event (from now on) that matches. */
export function nextEvent(
  client: SignalingClient,
  match: (envelope: Envelope) => boolean,
  timeoutMs = 5_000,
): Promise<Envelope> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no matching event within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = client.onEvent((envelope) => {
      if (!match(envelope)) return;
      clearTimeout(timer);
      off();
      resolve(envelope);
    });
  });
}

/** The room's member list as `client` holds it (whole lists and deltas applied), once `match` holds for its ids. */
export function membersWhen(
  client: SignalingClient,
  match: (ids: string[]) => boolean,
  room = DEFAULT_ROOM,
  timeoutMs = 5_000,
): Promise<Member[]> {
  const ids = (members: Member[]) => members.map((m) => m.agent_id);
  if (match(ids(client.members(room)))) return Promise.resolve(client.members(room));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('members', onMembers);
      reject(
        new Error(`members of "${room}" did not match within ${timeoutMs} ms: ${ids(client.members(room))}`),
      );
    }, timeoutMs);
    const onMembers = (changed: string, members: Member[]) => {
      if (changed !== room || !match(ids(members))) return;
      clearTimeout(timer);
      client.off('members', onMembers);
      resolve(members);
    };
    client.on('members', onMembers);
  });
}

/** Every agent id `client` is ever shown in its rooms, from now on. */
export function idsSeenBy(client: SignalingClient): Set<string> {
  const seen = new Set<string>();
  client.on('members', (_room, members) => {
    for (const member of members) seen.add(member.agent_id);
  });
  return seen;
}

export function memberIds(envelope: Envelope): string[] {
  const members = envelope.data.members as Array<{ agent_id: string }>;
  return members.map((m) => m.agent_id).sort();
}

/** A bare WebSocket speaking the protocol by hand, for what the real client would refuse to send. */
export class RawAgent {
  readonly messages: Envelope[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: Array<() => void> = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (raw) => {
      this.messages.push(JSON.parse(raw.toString()) as Envelope);
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
  }

  sendText(text: string): void {
    this.ws.send(text);
  }

  send(type: string, data: Record<string, unknown>, id: string = randomUUID()): string {
    this.ws.send(JSON.stringify({ type, id, data }));
    return id;
  }

  /** The nonce the server challenged this socket with. */
  async nonce(): Promise<string> {
    const challenge = await this.next((e) => e.type === 'system.challenge');
    return challenge.data.nonce as string;
  }

  async hello(fields: HelloFields): Promise<Envelope> {
    const data = signed(fields, await this.nonce());
    this.send('system.hello', data as unknown as Record<string, unknown>);
    // The welcome, or the error a refused hello gets.
    return this.next((e) => e.type === 'system.welcome' || e.type === 'system.error');
  }

  /** The first message received so far (or later) that matches, not consumed. */
  async next(match: (envelope: Envelope) => boolean, timeoutMs = 5_000): Promise<Envelope> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no matching message in time');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}
