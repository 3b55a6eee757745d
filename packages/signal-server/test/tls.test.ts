import { generateIdentity } from '@mesh-agent/host';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SignalServer } from '../src/index.js';
import { hello, signed, TOKEN } from './helpers.js';

const servers: SignalServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.stop();
});

function messages(ws: WebSocket): Array<{ type: string; data: Record<string, unknown> }> {
  const seen: Array<{ type: string; data: Record<string, unknown> }> = [];
  ws.on('message', (raw) => seen.push(JSON.parse(raw.toString())));
  return seen;
}

async function until<T>(find: () => T | undefined): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const found = find();
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('not in time');
}

describe('SignalServer over TLS', () => {
  it('serves wss:// for signaling, with the relay on the same port', async () => {
    const cert = await generateIdentity('localhost');
    const server = new SignalServer({
      port: 0,
      tokens: [{ token: TOKEN, rooms: '*' }],
      tls: { cert: cert.certPem, key: cert.keyPem },
      relay: { secret: Buffer.alloc(32, 7) },
    });
    servers.push(server);
    const { url, relayUrl } = await server.start();
    expect(url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+$/);
    expect(relayUrl).toBe(`${url}/relay`);

    // A self-signed test certificate without the IP in it: this client skips verification.
    const ws = new WebSocket(url, { rejectUnauthorized: false });
    const seen = messages(ws);
    const challenge = await until(() => seen.find((m) => m.type === 'system.challenge'));
    ws.send(
      JSON.stringify({
        type: 'system.hello',
        id: crypto.randomUUID(),
        data: signed(hello('alice'), String(challenge.data.nonce)),
      }),
    );
    expect(await until(() => seen.find((m) => m.type === 'system.welcome'))).toMatchObject({
      data: { agent_id: 'alice' },
    });
    ws.close();

    // Plain ws:// to a TLS port does not get in.
    const plain = new WebSocket(url.replace('wss:', 'ws:'));
    await expect(new Promise((_, reject) => plain.once('error', reject))).rejects.toThrow();
  });
});
