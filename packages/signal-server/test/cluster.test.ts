import type { P2pSessionData } from '@mesh-agent/host';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Harness, hello, identity, memberIds, membersWhen, nextEvent } from './helpers.js';
import { redisAvailable, TestRedis } from './redis-helpers.js';

/** Short, so that expiry shows within a test; nodes refresh three times per TTL. */
const PRESENCE_TTL_MS = 1_500;

describe.skipIf(!redisAvailable())('signal server nodes sharing one Redis', () => {
  let redis: TestRedis;
  let harness: Harness;

  beforeEach(async () => {
    redis = await TestRedis.start();
    harness = new Harness();
  });
  afterEach(async () => {
    await harness.dispose();
    await redis.stop();
  });

  function node() {
    return harness.server({ redis: { url: redis.url, presenceTtlMs: PRESENCE_TTL_MS } });
  }

  it('shows agents of other nodes, brokers sessions and relays events between nodes', async () => {
    const [a, b] = await Promise.all([node(), node()]);
    const alice = await harness.connected(a.url, hello('alice'));
    const aliceSeesBob = membersWhen(alice, (ids) => ids.includes('bob'));
    const bobHello = hello('bob', { capabilities: ['terminal'] });
    const bob = await harness.connected(b.url, bobHello);
    const seen = await aliceSeesBob;
    expect(seen.map((m) => m.agent_id)).toEqual(['alice', 'bob']);
    expect(seen).toContainEqual(expect.objectContaining({ fingerprint: bobHello.fingerprint }));
    expect(memberIds(await bob.request('room.members', { room: 'default' }))).toEqual(['alice', 'bob']);

    const bobSession = nextEvent(bob, (e) => e.type === 'p2p.session');
    const reply = await alice.request('p2p.request', { peer_id: 'bob', stream_type: 'terminal' });
    expect(reply.type).toBe('p2p.session');
    const mine = reply.data as unknown as P2pSessionData;
    const theirs = (await bobSession).data as unknown as P2pSessionData;
    expect(theirs).toMatchObject({ session_id: mine.session_id, token: mine.token, role: 'responder' });
    expect(mine).toMatchObject({ peer_id: 'bob', peer_fingerprint: bobHello.fingerprint, role: 'initiator' });

    const invited = new Promise<Record<string, unknown>>((resolve) =>
      bob.route('term', (e) => resolve(e.data)),
    );
    alice.send('term.invite', { to: 'bob', cols: 80 });
    expect(await invited).toMatchObject({ from: 'alice', from_conn: alice.welcome?.connection_id, cols: 80 });

    const health = await (await fetch(`http://127.0.0.1:${a.port}/healthz`)).json();
    expect(health).toMatchObject({
      status: 'ok',
      agents: 1,
      sessions_brokered: 1,
      messages_relayed: 1,
      backplane: { store: 'redis', state: 'ready' },
    });
    const metrics = await (await fetch(`http://127.0.0.1:${a.port}/metrics`)).text();
    expect(metrics).toContain('mesh_signal_sessions_brokered_total 1');
    expect(metrics).toContain('mesh_signal_redis_up 1');
    expect(metrics).toMatch(/mesh_signal_redis_round_trip_seconds \d/);

    // Leaving is seen on the other node at once, not after the TTL.
    const gone = membersWhen(alice, (ids) => !ids.includes('bob'));
    const leftAt = Date.now();
    await bob.stop();
    await gone;
    expect(Date.now() - leftAt).toBeLessThan(PRESENCE_TTL_MS);
  });

  it('moves an agent whose node stops to the next server in its list, where it announces itself', async () => {
    const [a, b] = await Promise.all([node(), node()]);
    const bob = await harness.connected(b.url, hello('bob'));
    const alice = harness.client([a.url, b.url], hello('alice'), { backoff: { initialMs: 50, maxMs: 200 } });
    await alice.whenConnected(5_000);
    expect(alice.url).toBe(a.url);
    await a.server.stop();
    await expect
      .poll(() => alice.url === b.url && alice.state === 'connected', { timeout: 5_000 })
      .toBe(true);
    expect(memberIds(await bob.request('room.members', { room: 'default' }))).toEqual(['alice', 'bob']);
    const session = await bob.request('p2p.request', { peer_id: 'alice', stream_type: 'file' });
    expect(session.type).toBe('p2p.session');
  });

  it('refuses a second key for an id bound on another node', async () => {
    const [a, b] = await Promise.all([node(), node()]);
    await harness.connected(a.url, hello('alice'));
    const impostor = harness.client(b.url, hello('alice', { fingerprint: identity().fingerprint }));
    const refused = await new Promise((resolve) => impostor.once('rejected', resolve));
    expect(refused).toMatchObject({ code: 'identity_conflict' });
  });

  it('serves local agents while Redis is down and joins the nodes up again when it returns', async () => {
    const [a, b] = await Promise.all([node(), node()]);
    const alice = await harness.connected(a.url, hello('alice'));
    await harness.connected(a.url, hello('carol'));
    const bob = await harness.connected(b.url, hello('bob'));
    const everyone = ['alice', 'bob', 'carol'];
    const membersSeenBy = async (client: typeof alice) =>
      memberIds(await client.request('room.members', { room: 'default' }));
    await expect.poll(() => membersSeenBy(alice)).toEqual(everyone);

    await redis.stop();
    await expect.poll(() => a.server.health().backplane).toMatchObject({ state: 'down' });
    expect(await membersSeenBy(alice)).toEqual(['alice', 'carol']);
    expect(await membersSeenBy(bob)).toEqual(['bob']);
    const local = await alice.request('p2p.request', { peer_id: 'carol', stream_type: 'file' });
    expect(local.type).toBe('p2p.session');
    expect(await (await fetch(`http://127.0.0.1:${a.port}/healthz`)).json()).toMatchObject({
      status: 'degraded',
    });
    // An id nobody has seen cannot be checked against the shared bindings: told to retry, not refused.
    const dave = harness.client(a.url, hello('dave'), { backoff: { initialMs: 50, maxMs: 200 } });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(dave.state).toBe('connecting');

    await redis.restart();
    await dave.whenConnected(5_000);
    for (const client of [alice, bob]) {
      await expect
        .poll(() => membersSeenBy(client), { timeout: 5_000 })
        .toEqual([...everyone, 'dave'].sort());
    }
    const across = await alice.request('p2p.request', { peer_id: 'bob', stream_type: 'file' });
    expect(across.type).toBe('p2p.session');
    expect(a.server.health().backplane).toMatchObject({ state: 'ready' });
  });
});
