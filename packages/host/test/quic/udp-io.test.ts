import { createHash, randomBytes } from 'node:crypto';
import { ENV_SWITCH } from '@mesh-agent/udp-batch';
import { afterEach, describe, expect, it } from 'vitest';
import { generateIdentity } from '../../src/identity/identity.js';
import { QuicEndpoint } from '../../src/quic/index.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Two endpoints (driver threads) and one connection between them; `env` holds while they start. */
async function pair(payload: number, env: string | undefined) {
  const before = process.env[ENV_SWITCH];
  if (env === undefined) delete process.env[ENV_SWITCH];
  else process.env[ENV_SWITCH] = env;
  try {
    const [a, b] = await Promise.all([generateIdentity(), generateIdentity()]);
    const options = { maxUdpPayload: payload, loopbackUdpPayload: payload };
    const server = await QuicEndpoint.listen({ host: '127.0.0.1', identity: a, options });
    const client = await QuicEndpoint.listen({ host: '127.0.0.1', identity: b, options });
    return { server, client, fingerprint: a.fingerprint };
  } finally {
    if (before === undefined) delete process.env[ENV_SWITCH];
    else process.env[ENV_SWITCH] = before;
  }
}

/** Sends `bytes` random bytes from client to server, which echoes them; resolves with both. */
async function echo(p: Awaited<ReturnType<typeof pair>>, bytes: number): Promise<[Buffer, Buffer]> {
  p.server.on('connection', (conn) => conn.on('stream', (stream) => stream.pipe(stream)));
  const conn = await p.client.connect({
    host: '127.0.0.1',
    port: p.server.address().port,
    expectedFingerprint: p.fingerprint,
  });
  const payload = randomBytes(bytes);
  const stream = conn.openStream();
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  stream.end(payload);
  await ended;
  await conn.close();
  return [payload, Buffer.concat(chunks)];
}

describe('the QUIC driver on batched UDP I/O', () => {
  let endpoints: QuicEndpoint[] = [];
  afterEach(async () => {
    await Promise.all(endpoints.map((e) => e.close()));
    endpoints = [];
  });

  it.runIf(process.platform === 'linux')(
    'sends trains of 1350-byte datagrams with GSO and receives them with GRO, intact',
    async () => {
      const p = await pair(1350, undefined);
      endpoints = [p.server, p.client];
      const [sent, echoed] = await echo(p, 8 * 1024 * 1024);
      expect(sha256(echoed)).toBe(sha256(sent));
      const stats = await p.client.stats();
      expect(stats.udp).toMatchObject({ path: 'gso', whyNotGso: null, gro: true });
      // 8 MiB in 1350-byte datagrams: thousands of them, in far fewer calls.
      expect(stats.udp.batched).toBeGreaterThan(6_000);
      expect(stats.udp.sendCalls).toBeLessThan(stats.udp.batched / 4);
      expect(stats.datagramsOut).toBeGreaterThanOrEqual(stats.udp.batched);
    },
  );

  it('falls back to node:dgram with MESH_AGENT_UDP_BATCH=off, and says so', async () => {
    const p = await pair(1350, 'off');
    endpoints = [p.server, p.client];
    const [sent, echoed] = await echo(p, 4 * 1024 * 1024);
    expect(sha256(echoed)).toBe(sha256(sent));
    const stats = await p.client.stats();
    expect(stats.udp).toMatchObject({
      path: 'dgram',
      whyNotGso: `disabled by ${ENV_SWITCH}=off`,
      gro: false,
      batched: 0,
    });
    expect(stats.udp.handedOff).toBeGreaterThan(3_000);
  });

  it.runIf(process.platform === 'linux')(
    'batches without GSO with MESH_AGENT_UDP_BATCH=no-gso (large datagrams)',
    async () => {
      const p = await pair(16_000, 'no-gso');
      endpoints = [p.server, p.client];
      const [sent, echoed] = await echo(p, 4 * 1024 * 1024);
      expect(sha256(echoed)).toBe(sha256(sent));
      const stats = await p.server.stats();
      expect(stats.udp).toMatchObject({ path: 'sendmmsg', whyNotGso: `disabled by ${ENV_SWITCH}=no-gso` });
      expect(stats.udp.batched).toBeGreaterThan(200);
    },
  );
});
