import { describe, expect, it } from 'vitest';
import { type SessionGrant, TokenCache } from '../../src/tokens/token-cache.js';

const FP = 'a'.repeat(64);
function grant(over: Partial<SessionGrant> = {}): SessionGrant {
  return {
    sessionId: 's1',
    token: 'tok-0123456789abcdef',
    expiresAt: 10_000,
    peerId: 'alice',
    peerFingerprint: FP,
    peerAddresses: [],
    role: 'responder',
    ...over,
  };
}
const claim = { sessionId: 's1', token: 'tok-0123456789abcdef', agentId: 'alice', fingerprint: FP };

describe('TokenCache', () => {
  it('redeems a valid token once, then reports reuse', () => {
    const cache = new TokenCache({ now: () => 1_000 });
    cache.add(grant());
    expect(cache.redeem(claim)).toMatchObject({ ok: true });
    expect(cache.redeem(claim)).toEqual({ ok: false, reason: 'used' });
  });

  it('rejects unknown sessions, wrong tokens (any length), wrong agents and wrong fingerprints', () => {
    const cache = new TokenCache({ now: () => 1_000 });
    cache.add(grant());
    expect(cache.redeem({ ...claim, sessionId: 'nope' })).toEqual({ ok: false, reason: 'unknown' });
    expect(cache.redeem({ ...claim, token: 'x' })).toEqual({ ok: false, reason: 'bad-token' });
    expect(cache.redeem({ ...claim, token: `${claim.token}x` })).toEqual({ ok: false, reason: 'bad-token' });
    expect(cache.redeem({ ...claim, agentId: 'mallory' })).toEqual({ ok: false, reason: 'wrong-agent' });
    expect(cache.redeem({ ...claim, fingerprint: 'b'.repeat(64) })).toEqual({
      ok: false,
      reason: 'wrong-fingerprint',
    });
    // None of the failures consumed the grant.
    expect(cache.redeem(claim)).toMatchObject({ ok: true });
  });

  it('rejects expired tokens and sweeps them', () => {
    let now = 1_000;
    const cache = new TokenCache({ now: () => now });
    cache.add(grant());
    now = 10_000;
    expect(cache.redeem(claim)).toEqual({ ok: false, reason: 'expired' });
    cache.sweep();
    expect(cache.size).toBe(0);
    expect(cache.redeem(claim)).toEqual({ ok: false, reason: 'unknown' });
  });

  it('accepts any agent and fingerprint when the grant names none (direct mode)', () => {
    const cache = new TokenCache({ now: () => 1_000 });
    cache.add(grant({ peerId: undefined, peerFingerprint: undefined }));
    expect(cache.redeem({ ...claim, agentId: 'bob', fingerprint: 'c'.repeat(64) })).toMatchObject({
      ok: true,
    });
  });

  it('stays bounded, evicting the oldest grants', () => {
    const cache = new TokenCache({ maxEntries: 3, now: () => 1_000 });
    for (let i = 0; i < 5; i++) cache.add(grant({ sessionId: `s${i}` }));
    expect(cache.size).toBe(3);
    expect(cache.get('s0')).toBeUndefined();
    expect(cache.get('s4')).toBeDefined();
  });

  it('a peer asking for sessions in a flood pushes out only its own oldest grants', () => {
    const cache = new TokenCache({ maxEntries: 100, maxPerPeer: 10, now: () => 1_000 });
    cache.add(grant({ sessionId: 'bob-1', peerId: 'bob' }));
    for (let i = 0; i < 500; i++) cache.add(grant({ sessionId: `flood-${i}`, peerId: 'mallory' }));
    expect(cache.get('bob-1')).toBeDefined();
    expect(cache.size).toBe(11);
    expect(cache.get('flood-489')).toBeUndefined();
    expect(cache.get('flood-490')).toBeDefined();
    expect(cache.redeem({ ...claim, sessionId: 'bob-1', agentId: 'bob' })).toMatchObject({ ok: true });
  });

  it('lists sessions with their remaining TTL and never the token', () => {
    const cache = new TokenCache({ now: () => 4_000 });
    cache.add(grant());
    const [summary] = cache.list();
    expect(summary).toEqual({
      sessionId: 's1',
      peerId: 'alice',
      role: 'responder',
      streamType: undefined,
      ttlMs: 6_000,
      used: false,
    });
    expect(JSON.stringify(cache.list())).not.toContain(claim.token);
  });
});
