import type { P2pSessionData } from '@mesh-agent/host';
import { afterEach, describe, expect, it } from 'vitest';
import { SERVER_VERSION } from '../src/index.js';
import { Harness, hello, idsSeenBy, memberIds, membersWhen, nextEvent, TOKEN } from './helpers.js';

let harness: Harness;
afterEach(async () => {
  await harness.dispose();
});

function setup(): Harness {
  harness = new Harness();
  return harness;
}

describe('SignalServer with the real SignalingClient', () => {
  it('answers system.hello with system.welcome', async () => {
    const h = setup();
    const { url } = await h.server({ sessionTtlS: 90 });
    const client = h.client(url, hello('alice'));
    const welcome = await client.whenConnected(5_000);
    expect(welcome.agent_id).toBe('alice');
    expect(welcome.server_version).toBe(SERVER_VERSION);
    expect(welcome.session_ttl_s).toBe(90);
    expect(typeof welcome.connection_id).toBe('string');
    expect(client.state).toBe('connected');
  });

  it('lists both agents of a room to both of them, once each', async () => {
    const h = setup();
    const { url } = await h.server();
    const alice = await h.connected(url, hello('alice'));
    const aliceSeesBob = membersWhen(alice, (ids) => ids.includes('bob'));
    const bobHello = hello('bob', { capabilities: ['file', 'terminal'] });
    const bob = h.client(url, bobHello);
    const bobSees = await membersWhen(bob, (ids) => ids.length === 2);
    const aliceSees = await aliceSeesBob;
    expect(bobSees.map((m) => m.agent_id)).toEqual(['alice', 'bob']);
    const bobEntry = aliceSees.find((m) => m.agent_id === 'bob');
    expect(bobEntry).toMatchObject({
      capabilities: ['file', 'terminal'],
      addresses: bobHello.addresses,
      fingerprint: bobHello.fingerprint,
    });
    expect(bobEntry?.connected_at).toBeTypeOf('number');

    // On request, and rooms are separate.
    const answer = await alice.request('room.members', { room: 'default' });
    expect(answer.type).toBe('room.members');
    expect(memberIds(answer)).toEqual(['alice', 'bob']);
    const joined = await alice.request('room.join', { room: 'lab' });
    expect(memberIds(joined)).toEqual(['alice']);
    const notIn = await bob.request('room.members', { room: 'lab' });
    expect(notIn.type).toBe('system.error');
    expect(notIn.data.code).toBe('not_in_room');
  });

  it('sends a membership change to the members already there as a delta naming only that agent', async () => {
    const h = setup();
    const { url } = await h.server();
    const alice = await h.connected(url, hello('alice'));
    await h.connected(url, hello('bob'));
    await membersWhen(alice, (ids) => ids.includes('bob'));
    const delta = nextEvent(alice, (e) => e.type === 'room.delta');
    const carol = await h.connected(url, hello('carol'));
    expect((await delta).data).toMatchObject({ room: 'default', joined: [{ agent_id: 'carol' }], left: [] });
    expect(carol.members('default').map((m) => m.agent_id)).toEqual(['alice', 'bob', 'carol']);
    const left = nextEvent(alice, (e) => e.type === 'room.delta');
    await carol.stop();
    expect((await left).data).toEqual({ room: 'default', joined: [], left: ['carol'] });
  });

  it('mints one P2P session and sends it to both agents with opposite roles', async () => {
    const h = setup();
    const { url } = await h.server({ sessionTtlS: 60 });
    const aliceHello = hello('alice', { addresses: [{ address: '192.0.2.10', port: 4433 }] });
    const bobHello = hello('bob', {
      capabilities: ['terminal'],
      addresses: [
        { address: '198.51.100.7', port: 5544 },
        { address: '2001:db8::1', port: 5544 },
      ],
    });
    const alice = await h.connected(url, aliceHello);
    const bob = await h.connected(url, bobHello);
    const bobSession = nextEvent(bob, (e) => e.type === 'p2p.session');
    const before = Date.now();
    const reply = await alice.request('p2p.request', { peer_id: 'bob', stream_type: 'terminal' });
    expect(reply.type).toBe('p2p.session');
    const mine = reply.data as unknown as P2pSessionData;
    const theirs = (await bobSession).data as unknown as P2pSessionData;

    expect(mine.session_id).toBe(theirs.session_id);
    expect(mine.token).toBe(theirs.token);
    expect(Buffer.from(mine.token, 'base64url').length).toBeGreaterThanOrEqual(16);
    expect(mine.expires_at).toBe(theirs.expires_at);
    expect(mine.expires_at).toBeGreaterThanOrEqual(before + 60_000);
    expect(mine.expires_at).toBeLessThanOrEqual(Date.now() + 60_000);
    expect([mine.role, theirs.role]).toEqual(['initiator', 'responder']);
    expect(mine).toMatchObject({
      peer_id: 'bob',
      peer_addresses: bobHello.addresses,
      peer_fingerprint: bobHello.fingerprint,
      stream_type: 'terminal',
      request_id: reply.data.request_id,
    });
    expect(theirs).toMatchObject({
      peer_id: 'alice',
      peer_addresses: aliceHello.addresses,
      peer_fingerprint: aliceHello.fingerprint,
    });

    const again = await alice.request('p2p.request', { peer_id: 'bob', stream_type: 'terminal' });
    expect(again.data.token).not.toBe(mine.token);
    expect(again.data.session_id).not.toBe(mine.session_id);
  });

  it('answers a request for an unknown, offline or incapable peer with system.error', async () => {
    const h = setup();
    const { url } = await h.server();
    const alice = await h.connected(url, hello('alice'));
    const unknown = await alice.request('p2p.request', { peer_id: 'nobody', stream_type: 'file' });
    expect(unknown.type).toBe('system.error');
    expect(unknown.data).toMatchObject({ code: 'peer_unknown' });
    expect(unknown.data.ref_id).toBeTypeOf('string');

    const carol = await h.connected(url, hello('carol', { capabilities: ['file'] }));
    const incapable = await alice.request('p2p.request', { peer_id: 'carol', stream_type: 'terminal' });
    expect(incapable.data.code).toBe('capability_missing');

    const gone = membersWhen(alice, (ids) => !ids.includes('carol'));
    await carol.stop();
    await gone;
    const offline = await alice.request('p2p.request', { peer_id: 'carol', stream_type: 'file' });
    expect(offline.data.code).toBe('peer_offline');

    const self = await alice.request('p2p.request', { peer_id: 'alice', stream_type: 'file' });
    expect(self.data.code).toBe('peer_is_self');
  });

  it('keeps two connections of one agent apart', async () => {
    const h = setup();
    const { url } = await h.server();
    const aliceHello = hello('alice', { capabilities: ['file'] });
    const alice = await h.connected(url, aliceHello);
    const bobDaemonHello = hello('bob', { capabilities: ['terminal', 'file'] });
    const bobDaemon = await h.connected(url, bobDaemonHello);
    const bobOneShotHello = hello('bob', { capabilities: ['file'], fingerprint: bobDaemonHello.fingerprint });
    const bobOneShot = await h.connected(url, bobOneShotHello);

    const list = await alice.request('room.members', { room: 'default' });
    expect(memberIds(list)).toEqual(['alice', 'bob']);
    const bob = (list.data.members as Array<Record<string, unknown>>).find((m) => m.agent_id === 'bob');
    expect(bob?.addresses).toEqual(bobOneShotHello.addresses);
    expect([...((bob?.capabilities as string[] | undefined) ?? [])].sort()).toEqual(['file', 'terminal']);

    // Terminal: only the daemon advertised it.
    const daemonGets = nextEvent(bobDaemon, (e) => e.type === 'p2p.session');
    const oneShotGot: string[] = [];
    bobOneShot.route('p2p', (e) => oneShotGot.push(e.type));
    const term = await alice.request('p2p.request', { peer_id: 'bob', stream_type: 'terminal' });
    expect(term.data.peer_addresses).toEqual(bobDaemonHello.addresses);
    expect((await daemonGets).data.session_id).toBe(term.data.session_id);

    // File: both can; the newest connection is preferred.
    const oneShotGets = nextEvent(bobOneShot, (e) => e.type === 'p2p.session');
    const file = await alice.request('p2p.request', { peer_id: 'bob', stream_type: 'file' });
    expect((await oneShotGets).data.session_id).toBe(file.data.session_id);
    expect(oneShotGot).toEqual(['p2p.session']);

    // The initiator's session goes only to the connection that asked.
    const daemonAsked = await bobDaemon.request('p2p.request', { peer_id: 'alice', stream_type: 'file' });
    expect(daemonAsked.data.role).toBe('initiator');
    expect(daemonAsked.data.peer_addresses).toEqual(aliceHello.addresses);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(oneShotGot).toEqual(['p2p.session']);

    // Bob stays listed while one connection is live.
    await bobOneShot.stop();
    const still = await alice.request('room.members', { room: 'default' });
    expect(memberIds(still)).toEqual(['alice', 'bob']);
  });

  it('relays plugin-prefixed events to the addressed agent, stamped with the sender', async () => {
    const h = setup();
    const { url } = await h.server();
    const alice = await h.connected(url, hello('alice'));
    const bob = await h.connected(url, hello('bob'));
    const received = new Promise<Record<string, unknown>>((resolve) =>
      bob.route('term', (e) => resolve(e.data)),
    );
    const id = alice.send('term.invite', { to: 'bob', session: 'abc', cols: 80 });
    const data = await received;
    expect(data).toMatchObject({
      to: 'bob',
      session: 'abc',
      cols: 80,
      from: 'alice',
      from_conn: alice.welcome?.connection_id,
    });

    // A reply addressed to the sending connection.
    const reply = nextEvent(alice, (e) => e.type === 'term.accept');
    bob.send('term.accept', { to: 'alice', to_conn: String(data.from_conn), ref: id });
    expect((await reply).data).toMatchObject({ from: 'bob', ref: id });

    const lost = await alice.request('term.invite', { to: 'ghost' });
    expect(lost.type).toBe('system.error');
    expect(lost.data.code).toBe('peer_unknown');

    // Agents in other rooms cannot be reached.
    const carol = await h.connected(url, hello('carol', { room: 'elsewhere' }));
    const hidden = await carol.request('term.invite', { to: 'alice' });
    // Exactly as for an agent nobody knows: other rooms' members are not revealed.
    expect(hidden.data.code).toBe('peer_unknown');
    expect(hidden.data.message).toBe(String(lost.data.message).replace('ghost', 'alice'));
  });

  it('accepts a token bound to the agent id and any agent when open', async () => {
    const h = setup();
    const bound = await h.server({ tokens: [{ token: 'bound-token-for-alice-000', agentId: 'alice' }] });
    const alice = h.client(bound.url, hello('alice', { token: 'bound-token-for-alice-000' }));
    await expect(alice.whenConnected(5_000)).resolves.toMatchObject({ agent_id: 'alice' });

    const open = await h.server({ open: true, tokens: [] });
    const { token: _omitted, ...noToken } = hello('anyone');
    const anyone = h.client(open.url, noToken);
    await expect(anyone.whenConnected(5_000)).resolves.toMatchObject({ agent_id: 'anyone' });
  });

  it.each([
    ['a wrong token', hello('mallory', { token: 'wrong-token-0123456789abcdef' }), 'invalid token'],
    ['no token', { ...hello('mallory'), token: undefined }, 'token is required'],
    [
      'a token bound to another agent id',
      hello('mallory', { token: 'bound-token-for-alice-000' }),
      'invalid token',
    ],
  ])('rejects an agent with %s', async (_label, helloData, message) => {
    const h = setup();
    const { url } = await h.server({
      tokens: [TOKEN, { token: 'bound-token-for-alice-000', agentId: 'alice' }],
    });
    const observer = await h.connected(url, hello('observer'));
    const seen = idsSeenBy(observer);
    const mallory = h.client(url, helloData);
    const rejected = new Promise((resolve) => mallory.once('rejected', resolve));
    await expect(mallory.whenConnected(5_000)).rejects.toMatchObject({ code: 'rejected' });
    expect(await rejected).toMatchObject({ code: 'unauthorized', message: expect.stringContaining(message) });
    expect(mallory.state).toBe('stopped');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(mallory.state).toBe('stopped');
    expect(seen).not.toContain('mallory');
  });

  it('never writes bearer or session tokens to its log', async () => {
    const h = setup();
    const records: unknown[] = [];
    const record = (obj: object, msg?: string) => records.push({ ...obj, msg });
    const log = { debug: record, info: record, warn: record, error: record };
    const { url } = await h.server({ log });
    const alice = await h.connected(url, hello('alice'));
    await h.connected(url, hello('bob'));
    const session = await alice.request('p2p.request', { peer_id: 'bob', stream_type: 'file' });
    const mallory = h.client(url, hello('mallory', { token: 'guessed-token-0123456789' }));
    await expect(mallory.whenConnected(5_000)).rejects.toThrow();
    const text = JSON.stringify(records);
    expect(text).toContain('p2p session minted');
    expect(text).toContain('authentication failed');
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain('guessed-token-0123456789');
    expect(text).not.toContain(String(session.data.token));
  });
});
