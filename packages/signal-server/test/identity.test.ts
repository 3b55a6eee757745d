import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { derivedAgentId, signHelloProof } from '@mesh-agent/host';
import { afterEach, describe, expect, it } from 'vitest';
import { BINDINGS_FILE } from '../src/bindings.js';
import { Harness, hello, identity, idsSeenBy, nextEvent, type RawAgent, signed, TOKEN } from './helpers.js';

let harness: Harness;
const dirs: string[] = [];
afterEach(async () => {
  await harness.dispose();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

function setup(): Harness {
  harness = new Harness();
  return harness;
}

/** What the server said before it closed the socket. */
async function refusal(agent: RawAgent): Promise<{ code: unknown; message: unknown; close: number }> {
  const error = await agent.next((e) => e.type === 'system.error');
  const { code } = await agent.closed;
  return { code: error.data.code, message: error.data.message, close: code };
}

describe('an agent id belongs to one key', () => {
  it('refuses an impostor that copies a connected agent id, on both sides, and keeps serving the owner', async () => {
    const h = setup();
    const { url } = await h.server();
    const alice = await h.connected(url, hello('alice'));
    const bob = await h.connected(url, hello('bob'));

    // Same id, its own (valid) key: the attack the review reproduced with MESH_AGENT_ID=alice.
    const impostor = h.client(url, hello('alice'));
    const rejected = new Promise((resolve) => impostor.once('rejected', resolve));
    await expect(impostor.whenConnected(5_000)).rejects.toMatchObject({ code: 'rejected' });
    expect(await rejected).toMatchObject({
      code: 'identity_conflict',
      message: expect.stringContaining('bound to another key'),
    });

    // Sessions for alice still go to the real alice.
    const offered = nextEvent(alice, (e) => e.type === 'p2p.session');
    const answer = await bob.request('p2p.request', { peer_id: 'alice', stream_type: 'file' });
    expect(answer.type).toBe('p2p.session');
    expect((await offered).data.peer_id).toBe('bob');
  });

  it('keeps the binding after the owner leaves and across a restart, in the data directory', async () => {
    const h = setup();
    const dataDir = await mkdtemp(join(tmpdir(), 'signal-bindings-'));
    dirs.push(dataDir);
    const first = await h.server({ dataDir });
    const aliceHello = hello('alice');
    const alice = await h.connected(first.url, aliceHello);
    await alice.stop();
    await first.server.stop();
    const saved = JSON.parse(await readFile(join(dataDir, BINDINGS_FILE), 'utf8'));
    expect(saved.alice.fingerprint).toBe(aliceHello.fingerprint);

    const second = await h.server({ dataDir });
    const impostor = await h.raw(second.url);
    await impostor.hello(hello('alice'));
    expect(await refusal(impostor)).toMatchObject({ code: 'identity_conflict', close: 4401 });
    // The owner's key is still welcome.
    await expect(h.connected(second.url, aliceHello)).resolves.toBeDefined();
  });

  it('refuses a derived id claimed by another key, and an operator-pinned id by any other key', async () => {
    const h = setup();
    const owner = identity();
    const { url } = await h.server({
      tokens: [
        { token: TOKEN, rooms: '*' },
        { token: 'pinned-token-0123456789', agentId: 'ops-bot', fingerprint: owner.fingerprint },
      ],
    });
    const derived = await h.raw(url);
    await derived.hello(hello(derivedAgentId(owner.fingerprint)));
    expect(await refusal(derived)).toMatchObject({
      code: 'identity_conflict',
      message: expect.stringContaining('derived from another key'),
    });
    // The owner itself may use its derived id.
    await expect(
      h.connected(url, hello(derivedAgentId(owner.fingerprint), { fingerprint: owner.fingerprint })),
    ).resolves.toBeDefined();

    const pinned = await h.raw(url);
    await pinned.hello(hello('ops-bot', { token: 'pinned-token-0123456789' }));
    expect(await refusal(pinned)).toMatchObject({ code: 'identity_conflict' });
    await expect(
      h.connected(
        url,
        hello('ops-bot', { token: 'pinned-token-0123456789', fingerprint: owner.fingerprint }),
      ),
    ).resolves.toBeDefined();
  });

  it('refuses a hello whose proof is forged, replayed from another connection, or names another certificate', async () => {
    const h = setup();
    const { url } = await h.server();
    const victim = identity();
    const attacker = identity();
    const claim = hello('victim', { fingerprint: victim.fingerprint });

    // The victim's fingerprint and certificate, signed with the attacker's key.
    const forged = await h.raw(url);
    const forgedProof = signHelloProof(attacker, await forged.nonce(), 'victim', victim.fingerprint).proof;
    const victimCert = signHelloProof(victim, 'x'.repeat(32), 'victim', victim.fingerprint).certificate;
    forged.send('system.hello', { ...claim, certificate: victimCert, proof: forgedProof });
    expect(await refusal(forged)).toMatchObject({
      code: 'unauthorized',
      message: expect.stringContaining('bad_signature'),
    });

    // A genuine proof, captured from one connection, replayed on another (another nonce).
    const first = await h.raw(url);
    const captured = signed(claim, await first.nonce());
    const replay = await h.raw(url);
    await replay.nonce();
    replay.send('system.hello', { ...captured });
    expect(await refusal(replay)).toMatchObject({ code: 'unauthorized' });

    // The attacker's own certificate under the victim's fingerprint.
    const swapped = await h.raw(url);
    const own = signHelloProof(attacker, await swapped.nonce(), 'victim', victim.fingerprint);
    swapped.send('system.hello', { ...claim, ...own });
    expect(await refusal(swapped)).toMatchObject({
      code: 'unauthorized',
      message: expect.stringContaining('fingerprint_mismatch'),
    });
  });
});

describe('rooms are a boundary', () => {
  async function roomServer(h: Harness) {
    return h.server({
      tokens: [
        { token: 'team-token-0123456789', rooms: ['team'] },
        { token: 'ops-token-01234567890', rooms: ['ops'] },
      ],
    });
  }

  it('refuses a hello or a join for a room the token does not grant', async () => {
    const h = setup();
    const { url } = await roomServer(h);
    const outsider = await h.raw(url);
    await outsider.hello(hello('eve', { token: 'team-token-0123456789', room: 'ops' }));
    expect(await refusal(outsider)).toMatchObject({
      code: 'room_forbidden',
      message: expect.stringContaining('"ops"'),
    });

    const member = await h.connected(url, hello('eve', { token: 'team-token-0123456789', room: 'team' }));
    const join = await member.request('room.join', { room: 'ops' });
    expect(join.data).toMatchObject({ code: 'room_forbidden' });
    const members = await member.request('room.members', { room: 'ops' });
    expect(members.data).toMatchObject({ code: 'not_in_room' });
  });

  it('shows no presence, brokers no session and relays nothing across rooms; strangers read as unknown', async () => {
    const h = setup();
    const { url } = await roomServer(h);
    const alice = await h.connected(url, hello('alice', { token: 'ops-token-01234567890', room: 'ops' }));
    const aliceSaw = idsSeenBy(alice);
    const eve = await h.connected(url, hello('eve', { token: 'team-token-0123456789', room: 'team' }));

    const unknown = await eve.request('p2p.request', { peer_id: 'nobody', stream_type: 'file' });
    const session = await eve.request('p2p.request', { peer_id: 'alice', stream_type: 'file' });
    expect(session.type).toBe('system.error');
    expect(session.data.code).toBe(unknown.data.code);
    expect(session.data.message).toBe(String(unknown.data.message).replace('nobody', 'alice'));
    const relayed = await eve.request('term.invite', { to: 'alice' });
    expect(relayed.data.code).toBe(unknown.data.code);

    // Even once alice has left, eve learns nothing of her.
    await alice.stop();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const later = await eve.request('p2p.request', { peer_id: 'alice', stream_type: 'file' });
    expect(later.data.code).toBe(unknown.data.code);
    expect(aliceSaw).not.toContain('eve');
  });
});
