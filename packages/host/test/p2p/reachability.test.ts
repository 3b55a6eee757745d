import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { generateIdentity } from '../../src/identity/identity.js';
import { Reachability } from '../../src/p2p/reachability.js';
import { QuicEndpoint } from '../../src/quic/index.js';
import type { SessionGrant } from '../../src/tokens/token-cache.js';
import { eventually } from '../helpers/cli.js';

interface Record {
  level: number;
  msg: string;
  err?: string;
}

/** A Reachability on a real loopback endpoint, with its log records kept. */
async function reachability() {
  const endpoint = await QuicEndpoint.listen({
    host: '127.0.0.1',
    port: 0,
    identity: await generateIdentity(),
  });
  const records: Record[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      records.push(JSON.parse(chunk.toString()) as Record);
      done();
    },
  });
  const reach = new Reachability({
    endpoint,
    log: pino({ level: 'debug' }, sink),
    hostAddresses: () => [{ address: '127.0.0.1', port: endpoint.address().port }],
  });
  return { endpoint, reach, records };
}

/** A brokered session whose peer is elsewhere (TEST-NET: probes reach nobody) and has no relay. */
function grant(sessionId: string): SessionGrant {
  return {
    sessionId,
    token: 'a-session-token-0123456789',
    expiresAt: Date.now() + 60_000,
    peerId: 'agent-peer',
    peerFingerprint: 'ab'.repeat(32),
    peerAddresses: [],
    peerCandidates: [{ address: '192.0.2.7', port: 7400, type: 'host' }],
    role: 'responder',
  };
}

const noPath = (records: Record[]) => records.filter((r) => r.msg === 'no path to the peer');

describe('Reachability: a responder stops punching when it is no longer needed', () => {
  const endpoints: QuicEndpoint[] = [];
  afterEach(async () => {
    await Promise.all(endpoints.splice(0).map((e) => e.close()));
  });

  it('a session released before it found a path (its peer came over loopback) stops at once, quietly', async () => {
    const { endpoint, reach, records } = await reachability();
    endpoints.push(endpoint);
    reach.prepare(grant('released-early'));
    reach.release('released-early');
    // Without the release, probing would go on until the punch window (5 s) and then warn.
    const [record] = await eventually(async () => noPath(records).length > 0 && noPath(records), 2_000);
    expect(record).toMatchObject({ level: 20, err: expect.stringMatching(/session closed$/) });
  });

  it('a punch still waiting when the agent stops ends at debug, not as a warning', async () => {
    const { endpoint, reach, records } = await reachability();
    reach.prepare(grant('at-shutdown'));
    reach.stop();
    await endpoint.close();
    const [record] = await eventually(async () => noPath(records).length > 0 && noPath(records), 2_000);
    expect(record?.level).toBe(20);
  });
});
