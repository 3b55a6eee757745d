import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { RELAY_CLOSE_CODES, RelayClientError } from '@mesh-agent/host/nat';
import { afterEach, describe, expect, it } from 'vitest';
import { mintRelayGrant, RelayHub } from '../src/index.js';
import { collect, RelayHarness, until } from './relay-helpers.js';

let harness: RelayHarness;

async function start(limits: ConstructorParameters<typeof RelayHub>[0]['limits'] = {}) {
  harness = new RelayHarness();
  await harness.start(limits);
  return harness;
}

/** Both agents of a new session, bound, each knowing the other is present. */
async function boundPair(h: RelayHarness) {
  const grants = h.pair();
  const alice = await h.connected(grants.a);
  const bob = await h.connected(grants.b);
  await until(() => alice.peerPresent, 5_000, 'alice sees bob');
  return { ...grants, alice, bob };
}

afterEach(async () => {
  await harness?.stop();
});

/** A datagram whose bytes say which one it is. */
function datagram(seq: number, size: number): Buffer {
  const bytes = randomBytes(size);
  bytes.writeUInt32BE(seq, 0);
  return bytes;
}

describe('RelayHub pairing and forwarding', () => {
  it('pairs the two agents of a session and forwards datagrams both ways, byte for byte', async () => {
    const h = await start();
    const { sessionId, a, b } = h.pair();
    const alice = await h.connected(a);
    expect(alice.peerPresent).toBe(false);
    const alicePeer = once(alice, 'peer');
    const bob = await h.connected(b);
    expect(bob.peerPresent).toBe(true);
    expect(await alicePeer).toEqual(['present']);
    const toBob = collect(bob);
    const toAlice = collect(alice);

    const one = datagram(1, 1350);
    const two = Buffer.from([0x42]);
    const big = datagram(3, h.hub.limits.maxDatagramBytes);
    expect(alice.send(one)).toBe(true);
    expect(alice.send(big)).toBe(true);
    expect(bob.send(two)).toBe(true);
    await until(() => toBob.length === 2 && toAlice.length === 1);
    expect(toBob).toEqual([one, big]);
    expect(toAlice).toEqual([two]);
    expect(h.hub.stats()).toMatchObject({ sessions: 1, boundSockets: 2, datagramsForwarded: 3 });
    expect(sessionId).toMatch(/-/);
  });

  it('keeps thousands of datagrams in order', async () => {
    const h = await start();
    const { alice, bob } = await boundPair(h);
    const received = collect(bob);
    const sent: Buffer[] = [];
    for (let seq = 0; seq < 5_000; seq++) {
      const d = datagram(seq, 64 + (seq % 1300));
      if (!alice.send(d)) await until(() => alice.bufferedAmount === 0);
      else sent.push(d);
    }
    await until(() => received.length === sent.length, 10_000, 'all datagrams');
    expect(received.map((d) => d.readUInt32BE(0))).toEqual(sent.map((d) => d.readUInt32BE(0)));
    expect(Buffer.concat(received).equals(Buffer.concat(sent))).toBe(true);
  });

  it('tells the other side when a peer leaves, and again when it comes back with its grant', async () => {
    const h = await start();
    const { b, alice, bob } = await boundPair(h);
    const states: string[] = [];
    alice.on('peer', (s) => states.push(s));
    await bob.close();
    await until(() => states.length === 1);
    expect(alice.peerPresent).toBe(false);
    expect(alice.send(datagram(1, 100))).toBe(true); // no one to take it: dropped by the hub
    await until(() => h.hub.stats().droppedNoPeer === 1);

    const bobAgain = await h.connected(b);
    await until(() => states.length === 2);
    expect(states).toEqual(['gone', 'present']);
    const received = collect(bobAgain);
    alice.send(datagram(2, 100));
    await until(() => received.length === 1);
  });

  it('a rebind with the same grant replaces the old socket of that side', async () => {
    const h = await start();
    const { b, alice, bob } = await boundPair(h);
    const bobClosed = once(bob, 'close');
    const states: string[] = [];
    alice.on('peer', (s) => states.push(s));
    const bob2 = await h.connected(b);
    expect((await bobClosed)[0]).toBe(RELAY_CLOSE_CODES.replaced);
    const received = collect(bob2);
    alice.send(datagram(7, 200));
    await until(() => received.length === 1);
    expect(states).toEqual([]); // the peer never looked gone
    expect(h.hub.stats().boundSockets).toBe(2);
  });
});

describe('RelayHub grants', () => {
  it('refuses a forged, an expired and a malformed grant with its code, then closes 4401', async () => {
    const h = await start();
    const forged = mintRelayGrant(randomBytes(32), {
      sessionId: 's1',
      agentId: 'alice',
      peerId: 'bob',
      expiresAt: Date.now() + 60_000,
    });
    const expired = h.grant('s1', 'alice', 'bob', -1);
    for (const [grant, code] of [
      [forged, 'bad_mac'],
      [expired, 'expired'],
      ['not-a-grant', 'malformed'],
    ] as const) {
      const error = await h
        .client(grant)
        .connect()
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RelayClientError);
      expect(error).toMatchObject({ code, closeCode: RELAY_CLOSE_CODES.grantRefused });
    }
    expect(h.hub.stats()).toMatchObject({ sessions: 0, refusedBinds: 3 });
  });

  it('gives a grant naming other agents nothing of the session (4403 session_mismatch)', async () => {
    const h = await start();
    const { sessionId, a, b } = h.pair('alice', 'bob');
    const alice = await h.connected(a);
    const toAlice = collect(alice);
    const peerEvents: string[] = [];
    alice.on('peer', (s) => peerEvents.push(s));
    // A valid grant of the relay, but for mallory and alice: not this session's pair.
    const intruder = h.grant(sessionId, 'mallory', 'alice');
    await expect(h.client(intruder).connect()).rejects.toMatchObject({
      code: 'session_mismatch',
      closeCode: RELAY_CLOSE_CODES.sessionRefused,
    });
    const bob = await h.connected(b);
    bob.send(datagram(1, 10));
    await until(() => toAlice.length === 1);
    expect(peerEvents).toEqual(['present']);
  });

  it('a client bound to its own session cannot add or swap in another agent’s grant', async () => {
    const h = await start();
    const victim = h.pair('alice', 'bob');
    const alice = await h.connected(victim.a);
    const toAlice = collect(alice);
    const peerEvents: string[] = [];
    alice.on('peer', (s) => peerEvents.push(s));

    const own = h.pair('carol', 'dave');
    // Bound with its own grant, a second bind (bob's grant) on the same socket is a protocol error.
    const carol = await h.raw();
    carol.bind(own.a);
    expect(await carol.nextJson()).toMatchObject({ type: 'relay.bound', session_id: own.sessionId });
    carol.bind(victim.b);
    carol.send(datagram(1, 10));
    expect((await carol.closed).code).toBe(RELAY_CLOSE_CODES.protocolError);

    // Both grants in one bind, joined or side by side, bind nothing.
    const joined = await h.raw();
    joined.bind(`${own.a}.${victim.b}`);
    expect(await joined.nextJson()).toMatchObject({ type: 'relay.error', code: 'malformed' });
    const sideBySide = await h.raw();
    sideBySide.send(JSON.stringify({ type: 'relay.bind', grant: own.a, also: victim.b }));
    expect((await sideBySide.closed).code).toBe(RELAY_CLOSE_CODES.protocolError);

    // Bob's session id pasted into carol's grant breaks its MAC.
    const [payload, mac] = own.a.split('.') as [string, string];
    const fields = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const edited = Buffer.from(JSON.stringify({ ...fields, s: victim.sessionId })).toString('base64url');
    const tampered = await h.raw();
    tampered.bind(`${edited}.${mac}`);
    expect(await tampered.nextJson()).toMatchObject({ type: 'relay.error', code: 'bad_mac' });

    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(toAlice).toEqual([]);
    expect(peerEvents).toEqual([]);
    expect(h.hub.stats().droppedNoPeer).toBe(0);
  });
});

describe('RelayHub protocol errors', () => {
  it.each([
    ['binary before the bind', (s: { send: (d: string | Buffer) => void }) => s.send(Buffer.from([1, 2]))],
    ['invalid JSON', (s: { send: (d: string | Buffer) => void }) => s.send('{"type":')],
    ['a message that is not a bind', (s: { send: (d: string | Buffer) => void }) => s.send('{"type":"x"}')],
  ])('closes 4400 on %s', async (_name, act) => {
    const h = await start();
    const raw = await h.raw();
    act(raw);
    expect(await raw.closed).toMatchObject({ code: RELAY_CLOSE_CODES.protocolError });
    await until(() => h.hub.stats().unboundSockets === 0);
    expect(h.hub.stats().sessions).toBe(0);
  });

  it('closes 4400 on text after the bind', async () => {
    const h = await start();
    const raw = await h.raw();
    raw.bind(h.pair().a);
    await raw.nextJson();
    raw.send('{"type":"relay.bind"}');
    expect(await raw.closed).toEqual({
      code: RELAY_CLOSE_CODES.protocolError,
      reason: 'text message after relay.bind',
    });
  });

  it('closes 1009 on a datagram over the size limit', async () => {
    const h = await start({ maxDatagramBytes: 2_000, sessionBurstBytes: 4_000 });
    const { a, b } = h.pair();
    const alice = await h.connected(a);
    await h.connected(b);
    const closed = once(alice, 'close');
    alice.send(Buffer.alloc(2_001));
    expect((await closed)[0]).toBe(RELAY_CLOSE_CODES.tooLarge);
    expect(h.hub.stats().datagramsForwarded).toBe(0);
  });

  it('closes a socket that does not bind in time (relay.error bind_timeout, 4408)', async () => {
    const h = await start({ bindTimeoutMs: 150 });
    const raw = await h.raw();
    expect(await raw.nextJson()).toMatchObject({ type: 'relay.error', code: 'bind_timeout' });
    expect((await raw.closed).code).toBe(RELAY_CLOSE_CODES.bindTimeout);
  });
});

describe('RelayHub limits', () => {
  it('drops datagrams over the session rate and counts them', async () => {
    const h = await start({ sessionBytesPerSecond: 50_000, sessionBurstBytes: 20_000 });
    const { alice, bob } = await boundPair(h);
    const received = collect(bob);
    for (let i = 0; i < 100; i++) alice.send(datagram(i, 1_000));
    await until(() => h.hub.stats().droppedRate + h.hub.stats().datagramsForwarded === 100);
    const { droppedRate, datagramsForwarded } = h.hub.stats();
    // The burst, plus what the rate refilled while the 100 datagrams arrived.
    expect(datagramsForwarded).toBeGreaterThanOrEqual(20);
    expect(datagramsForwarded).toBeLessThan(40);
    expect(droppedRate).toBe(100 - datagramsForwarded);
    await until(() => received.length === datagramsForwarded);
    expect(bob.peerPresent).toBe(true); // dropping is not closing
  });

  it('closes both sides when the session reaches its byte cap, and refuses rebinds', async () => {
    const h = await start({ sessionMaxBytes: 10_000 });
    const { b, alice, bob } = await boundPair(h);
    const closes = [once(alice, 'close'), once(bob, 'close')];
    for (let i = 0; i < 11; i++) alice.send(datagram(i, 1_000));
    for (const closed of await Promise.all(closes)) {
      expect(closed).toEqual([RELAY_CLOSE_CODES.sessionBytesExhausted, 'session byte cap reached']);
    }
    await expect(h.client(b).connect()).rejects.toMatchObject({ code: 'session_closed' });
    expect(h.hub.stats().datagramsForwarded).toBe(10);
  });

  it('refuses an agent more sessions than its cap, and takes it again once one ends', async () => {
    const h = await start({ maxSessionsPerAgent: 2 });
    const withBob = h.pair('alice', 'bob');
    await h.connected(withBob.a);
    await h.connected(h.pair('alice', 'carol').a);
    const withDave = h.pair('alice', 'dave');
    await expect(h.client(withDave.a).connect()).rejects.toMatchObject({
      code: 'too_many_sessions',
      closeCode: RELAY_CLOSE_CODES.tooMany,
    });
    // Dave is not limited by alice's cap, and a rebind of a side alice holds is not a new session.
    await h.connected(withDave.b);
    const rebound = await h.connected(withBob.a);
    await rebound.close();
    await until(() => h.hub.stats().boundSockets === 2);
    await h.connected(withDave.a);
  });

  it('refuses unbound sockets from one address beyond the cap', async () => {
    const h = await start({ maxUnboundPerAddress: 2 });
    const waiting = [await h.raw(), await h.raw()];
    const third = await h.raw();
    expect(await third.nextJson()).toMatchObject({ type: 'relay.error', code: 'too_many_unbound' });
    expect((await third.closed).code).toBe(RELAY_CLOSE_CODES.tooMany);
    // Binding frees a place.
    waiting[0]?.bind(h.pair().a);
    await waiting[0]?.nextJson();
    const fourth = await h.raw();
    fourth.bind(h.pair().a);
    expect(await fourth.nextJson()).toMatchObject({ type: 'relay.bound' });
  });

  it('drops datagrams for a peer that does not read, keeps its buffer bounded, then terminates it', async () => {
    const maxBufferedBytes = 256 * 1024;
    const h = await start({ maxBufferedBytes, stalledTimeoutMs: 800 });
    const { a, b } = h.pair();
    const alice = await h.connected(a);
    const bob = await h.raw();
    bob.bind(b);
    await bob.nextJson();
    await until(() => alice.peerPresent, 5_000, 'alice sees bob');
    bob.ws.pause(); // bob stops reading: its TCP window closes, the hub's socket fills up
    const bobOnHub = h.serverSockets[1];
    if (!bobOnHub) throw new Error('no server socket for bob');
    const gone = once(alice, 'peer');

    let maxBuffered = 0;
    const payload = datagram(0, 1350);
    const deadline = Date.now() + 15_000;
    while (h.hub.stats().droppedBackpressure < 200 && Date.now() < deadline) {
      while (alice.send(payload)) {}
      await new Promise((resolve) => setTimeout(resolve, 1));
      maxBuffered = Math.max(maxBuffered, bobOnHub.bufferedAmount);
    }
    const { droppedBackpressure, datagramsForwarded } = h.hub.stats();
    expect(droppedBackpressure).toBeGreaterThanOrEqual(200);
    expect(maxBuffered).toBeGreaterThan(maxBufferedBytes);
    // Over the cap by at most the one datagram (and its frame header) that crossed it.
    expect(maxBuffered).toBeLessThanOrEqual(maxBufferedBytes + 1350 + 4);
    expect(datagramsForwarded).toBeGreaterThan(0);

    expect(await gone).toEqual(['gone']);
    expect(h.hub.stats()).toMatchObject({ stalledTerminated: 1, boundSockets: 1 });
  });
});

describe('RelayHub lifecycle', () => {
  it('refuses a secret shorter than 32 bytes', () => {
    expect(() => new RelayHub({ secret: randomBytes(31) })).toThrow(/at least 32 bytes/);
  });

  it('refuses limits that cannot work', () => {
    expect(() => new RelayHub({ secret: randomBytes(32), limits: { maxBufferedBytes: 0 } })).toThrow(
      /maxBufferedBytes must be a positive finite number/,
    );
    expect(
      () =>
        new RelayHub({ secret: randomBytes(32), limits: { maxDatagramBytes: 4096, sessionBurstBytes: 100 } }),
    ).toThrow(/sessionBurstBytes must be at least maxDatagramBytes/);
  });

  it('terminates a bound socket that stops answering pings, and keeps one that answers', async () => {
    const h = await start({ heartbeatIntervalMs: 100 });
    const { a, b } = h.pair();
    const alice = await h.connected(a);
    const bob = await h.raw();
    bob.bind(b);
    await bob.nextJson();
    await until(() => alice.peerPresent);
    const gone = once(alice, 'peer');
    bob.ws.pause(); // a dead peer: no pong comes back
    expect(await gone).toEqual(['gone']);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(h.hub.stats().boundSockets).toBe(1); // alice's client answers the pings
  });

  it('close() closes every client with 1001 and refuses new sockets', async () => {
    const h = await start();
    const { a, b } = h.pair();
    const alice = await h.connected(a);
    const closed = once(alice, 'close');
    const raw = await h.raw();
    await h.hub.close();
    expect((await closed)[0]).toBe(RELAY_CLOSE_CODES.goingAway);
    expect((await raw.closed).code).toBe(RELAY_CLOSE_CODES.goingAway);
    await expect(h.client(b).connect()).rejects.toMatchObject({ closeCode: RELAY_CLOSE_CODES.goingAway });
  });
});
