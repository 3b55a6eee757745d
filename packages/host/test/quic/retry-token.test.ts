import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RetryTokens } from '../../src/quic/retry-token.js';

describe('stateless retry tokens', () => {
  const odcid = randomBytes(20);
  const scid = randomBytes(20);
  afterEach(() => vi.useRealTimers());

  it('returns the original DCID for a token used from the same address', () => {
    const tokens = new RetryTokens();
    const token = tokens.mint('127.0.0.1', 4433, odcid, scid);
    expect(tokens.validate(token, '127.0.0.1', 4433, scid)?.equals(odcid)).toBe(true);
  });

  it('rejects a token from another address or port, for another connection id, or tampered with', () => {
    const tokens = new RetryTokens();
    const token = tokens.mint('127.0.0.1', 4433, odcid, scid);
    expect(tokens.validate(token, '127.0.0.2', 4433, scid)).toBeNull();
    expect(tokens.validate(token, '127.0.0.1', 4434, scid)).toBeNull();
    expect(tokens.validate(token, '127.0.0.1', 4433, randomBytes(20))).toBeNull();
    const tampered = Buffer.from(token);
    tampered[tampered.length - 1]! ^= 1;
    expect(tokens.validate(tampered, '127.0.0.1', 4433, scid)).toBeNull();
    expect(tokens.validate(token.subarray(0, 20), '127.0.0.1', 4433, scid)).toBeNull();
    expect(tokens.validate(randomBytes(80), '127.0.0.1', 4433, scid)).toBeNull();
    expect(new RetryTokens().validate(token, '127.0.0.1', 4433, scid)).toBeNull();
  });

  it('rejects an expired token', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const tokens = new RetryTokens(10_000);
    const token = tokens.mint('127.0.0.1', 4433, odcid, scid);
    vi.setSystemTime(1_000_000 + 9_000);
    expect(tokens.validate(token, '127.0.0.1', 4433, scid)).not.toBeNull();
    vi.setSystemTime(1_000_000 + 11_000);
    expect(tokens.validate(token, '127.0.0.1', 4433, scid)).toBeNull();
  });
});
