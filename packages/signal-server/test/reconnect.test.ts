import type { SignalingState } from '@mesh-agent/host';
import { afterEach, describe, expect, it } from 'vitest';
import { Harness, hello, memberIds, membersWhen, signed } from './helpers.js';

let harness: Harness;
afterEach(async () => {
  await harness.dispose();
});

describe('SignalingClient across a server restart', () => {
  it('reconnects, re-sends its hello and reappears in the members list within 10 s', async () => {
    harness = new Harness();
    const first = await harness.server();
    const observer = await harness.connected(first.url, hello('observer'));
    const aliceHello = hello('alice');
    let hellos = 0;
    const alice = harness.client(first.url, aliceHello, {
      hello: ({ nonce }) => {
        hellos += 1;
        return signed(aliceHello, nonce);
      },
    });
    await alice.whenConnected(5_000);
    const states: SignalingState[] = [];
    alice.on('state', (state) => states.push(state));

    await first.server.stop();
    const second = await harness.server({ port: first.port });
    const restartedAt = Date.now();
    const back = await membersWhen(
      observer,
      (ids) => ids.includes('alice') && ids.includes('observer'),
      'default',
      10_000,
    );
    expect(Date.now() - restartedAt).toBeLessThan(10_000);
    expect(back.map((m) => m.agent_id)).toEqual(['alice', 'observer']);
    await alice.whenConnected(5_000);
    expect(states).toContain('reconnecting');
    expect(states.at(-1)).toBe('connected');
    expect(hellos).toBe(2);
    expect(second.port).toBe(first.port);

    // And the session plane works on the new server.
    const session = await alice.request('p2p.request', { peer_id: 'observer', stream_type: 'file' });
    expect(session.type).toBe('p2p.session');
  });

  it('does not reconnect after stop()', async () => {
    harness = new Harness();
    const { url } = await harness.server();
    const observer = await harness.connected(url, hello('observer'));
    const alice = await harness.connected(url, hello('alice'));
    const gone = membersWhen(observer, (ids) => !ids.includes('alice'));
    await alice.stop();
    await gone;
    expect(alice.state).toBe('stopped');
    await new Promise((resolve) => setTimeout(resolve, 800));
    const list = await observer.request('room.members', { room: 'default' });
    expect(memberIds(list)).toEqual(['observer']);
  });
});
