import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  MAX_RELAY_GRANT_LENGTH,
  mintRelayGrant,
  parseRelaySecret,
  type RelayGrant,
  RelayGrantError,
  verifyRelayGrant,
} from '../src/index.js';

const secret = randomBytes(32);
const NOW = 1_700_000_000_000;
const grant: RelayGrant = { sessionId: 'c0ffee-1', agentId: 'alice', peerId: 'bob', expiresAt: NOW + 60_000 };
const BASE64URL_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** A grant with the given payload, signed with `key` the way mintRelayGrant signs. */
function signed(payload: unknown, key = secret): string {
  const part = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${part}.${createHmac('sha256', key).update(part).digest('base64url')}`;
}

describe('relay grants', () => {
  it('verifies what it minted, until the expiry', () => {
    const text = mintRelayGrant(secret, grant);
    expect(text).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(verifyRelayGrant(secret, text, NOW)).toEqual({ ok: true, grant });
    expect(verifyRelayGrant(secret, text, grant.expiresAt - 1).ok).toBe(true);
    expect(verifyRelayGrant(secret, text, grant.expiresAt)).toEqual({ ok: false, reason: 'expired' });
  });

  it('refuses a grant signed with another secret', () => {
    expect(verifyRelayGrant(secret, mintRelayGrant(randomBytes(32), grant), NOW)).toEqual({
      ok: false,
      reason: 'bad_mac',
    });
  });

  it('refuses the grant with any one character changed, removed or added', () => {
    const text = mintRelayGrant(secret, grant);
    for (let i = 0; i < text.length; i++) {
      const char = text[i] as string;
      // Every other base64url character, so the spare low bits of the MAC's last one are tried too.
      for (const other of `${BASE64URL_CHARS}.=+/ `) {
        if (other === char) continue;
        const tampered = text.slice(0, i) + other + text.slice(i + 1);
        expect(verifyRelayGrant(secret, tampered, NOW).ok, `${i}: ${char}→${other}`).toBe(false);
      }
      expect(verifyRelayGrant(secret, text.slice(0, i) + text.slice(i + 1), NOW).ok).toBe(false);
    }
    expect(verifyRelayGrant(secret, `${text}A`, NOW).ok).toBe(false);
    expect(verifyRelayGrant(secret, `A${text}`, NOW).ok).toBe(false);
  });

  it('says malformed for text that is no grant at all', () => {
    const text = mintRelayGrant(secret, grant);
    for (const bad of [undefined, 42, '', '.', 'abc', `${text}.${text}`, `${text}=`, 'a'.repeat(5_000)]) {
      expect(verifyRelayGrant(secret, bad, NOW)).toEqual({ ok: false, reason: 'malformed' });
    }
  });

  it('says malformed for a correctly signed payload of the wrong shape', () => {
    const fields = { v: 1, s: 'sid', a: 'alice', p: 'bob', e: NOW + 1_000 };
    for (const payload of [
      { ...fields, v: 2 },
      { ...fields, a: 'bob' },
      { ...fields, s: 'bad id!' },
      { ...fields, e: '1' },
      { ...fields, e: 1.5 },
      null,
      [fields],
    ]) {
      expect(verifyRelayGrant(secret, signed(payload), NOW)).toEqual({ ok: false, reason: 'malformed' });
    }
    expect(verifyRelayGrant(secret, signed(fields), NOW).ok).toBe(true);
  });

  it('refuses to mint from bad fields or a short secret', () => {
    expect(() => mintRelayGrant(secret, { ...grant, peerId: 'alice' })).toThrow(/must differ/);
    expect(() => mintRelayGrant(secret, { ...grant, agentId: 'x y' })).toThrow(/agentId must match/);
    expect(() => mintRelayGrant(secret, { ...grant, expiresAt: Number.NaN })).toThrow(/expiresAt/);
    expect(() => mintRelayGrant(secret, { ...grant, sessionId: 's'.repeat(129) })).toThrow(RelayGrantError);
    expect(() => mintRelayGrant(randomBytes(31), grant)).toThrow(/at least 32 bytes/);
    expect(() => verifyRelayGrant(randomBytes(16), 'x', NOW)).toThrow(/at least 32 bytes/);
    const longest = mintRelayGrant(secret, {
      ...grant,
      sessionId: 's'.repeat(128),
      agentId: 'a'.repeat(128),
      peerId: 'p'.repeat(128),
    });
    expect(longest.length).toBeLessThanOrEqual(MAX_RELAY_GRANT_LENGTH);
  });

  it('reads an operator secret without its surrounding whitespace, and never echoes it', () => {
    const text = 'k'.repeat(40);
    expect(parseRelaySecret(`  ${text}\n`, 'file').equals(Buffer.from(text))).toBe(true);
    const short = () => parseRelaySecret('short-secret-value\n', 'MESH_RELAY_SECRET');
    expect(short).toThrow(/MESH_RELAY_SECRET is 18 bytes; it must be at least 32/);
    expect(short).not.toThrow(/short-secret-value/);
  });
});
