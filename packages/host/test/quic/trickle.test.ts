import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeStun, StunAttr } from '../../src/nat/stun.js';
import { usernameAttribute, xorMappedAddressAttribute } from '../../src/nat/stun-attributes.js';
import { probeKey } from '../../src/quic/paths/probe-key.js';
import {
  decodeTrickle,
  encodeTrickle,
  isTricklePacket,
  MAX_TRICKLE_BYTES,
  MAX_TRICKLE_CANDIDATES,
  TRICKLE_METHOD,
  TrickleAttr,
  type TrickleMessage,
} from '../../src/quic/paths/trickle.js';

const KEY = probeKey('token-0123456789abcdef');
const SESSION = 'sess-1';
const message = (candidates = [{ address: '198.51.100.11', port: 20000 }]): TrickleMessage => ({
  sessionId: SESSION,
  sender: Buffer.alloc(8, 7),
  generation: 3,
  candidates,
});
const tid = () => randomBytes(12);

/** A trickle built by hand, so a test can break what encodeTrickle refuses to. */
function raw(candidates: number, key: Uint8Array = KEY): Buffer {
  const transactionId = tid();
  const generation = Buffer.alloc(4);
  generation.writeUInt32BE(1);
  return encodeStun(
    {
      method: TRICKLE_METHOD,
      class: 'indication',
      transactionId,
      attributes: [
        usernameAttribute(SESSION),
        { type: TrickleAttr.Sender, value: Buffer.alloc(8, 1) },
        { type: TrickleAttr.Generation, value: generation },
        ...Array.from({ length: candidates }, (_, i) =>
          xorMappedAddressAttribute({ address: '198.51.100.11', port: 20000 + i }, transactionId),
        ),
      ],
    },
    { integrityKey: key, fingerprint: true },
  );
}

describe('trickle messages', () => {
  it('round-trips IPv4 and IPv6 candidates, and never looks like QUIC', () => {
    const candidates = [
      { address: '198.51.100.11', port: 20000 },
      { address: '2001:db8::7', port: 40000 },
    ];
    const packet = encodeTrickle(message(candidates), KEY, tid());
    expect(isTricklePacket(packet)).toBe(true);
    expect(isTricklePacket(Buffer.from([0x40, 1]))).toBe(false);
    expect(isTricklePacket(Buffer.from([0xc3, 1]))).toBe(false);
    const decoded = decodeTrickle(packet, KEY, SESSION);
    expect(decoded).toEqual({ ok: true, message: message(candidates) });
  });

  it('refuses a bad signature, another key, another session, a flipped bit', () => {
    const packet = encodeTrickle(message(), KEY, tid());
    expect(decodeTrickle(packet, probeKey('another-token-abcdef'), SESSION)).toEqual({
      ok: false,
      reason: 'bad-signature',
    });
    expect(decodeTrickle(raw(1, probeKey('forger')), KEY, SESSION)).toEqual({
      ok: false,
      reason: 'bad-signature',
    });
    expect(decodeTrickle(packet, KEY, 'sess-2')).toEqual({ ok: false, reason: 'wrong-session' });
    // A candidate's port changed in flight: the FINGERPRINT no longer matches (malformed) and,
    // with the fingerprint fixed up, the MAC would not either.
    const tampered = Buffer.from(packet);
    tampered[tampered.indexOf(Buffer.from([0x00, 0x20, 0x00, 0x08])) + 6]! ^= 1;
    expect(decodeTrickle(tampered, KEY, SESSION).ok).toBe(false);
    const unsigned = encodeStun(
      {
        method: TRICKLE_METHOD,
        class: 'indication',
        transactionId: tid(),
        attributes: [usernameAttribute(SESSION), { type: TrickleAttr.Sender, value: Buffer.alloc(8) }],
      },
      { fingerprint: true },
    );
    expect(decodeTrickle(unsigned, KEY, SESSION)).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('refuses malformed and oversized datagrams', () => {
    for (const junk of [Buffer.alloc(0), Buffer.from([0, 1, 2]), randomBytes(100), Buffer.from([0x40, 1, 2])])
      expect(decodeTrickle(junk, KEY, SESSION)).toEqual({ ok: false, reason: 'malformed' });
    // A probe (Binding request) signed with the right key is no trickle.
    const probe = encodeStun(
      { method: 0x001, class: 'request', transactionId: tid(), attributes: [usernameAttribute(SESSION)] },
      { integrityKey: KEY, fingerprint: true },
    );
    expect(decodeTrickle(probe, KEY, SESSION)).toEqual({ ok: false, reason: 'malformed' });
    // Signed, but without sender or generation.
    const bare = encodeStun(
      {
        method: TRICKLE_METHOD,
        class: 'indication',
        transactionId: tid(),
        attributes: [usernameAttribute(SESSION)],
      },
      { integrityKey: KEY },
    );
    expect(decodeTrickle(bare, KEY, SESSION)).toEqual({ ok: false, reason: 'malformed' });
    const big = Buffer.concat([encodeTrickle(message(), KEY, tid()), Buffer.alloc(MAX_TRICKLE_BYTES)]);
    expect(decodeTrickle(big, KEY, SESSION)).toEqual({ ok: false, reason: 'oversized' });
    // Even a well-formed, signed message beyond the size cap is not parsed.
    const padded = encodeStun(
      {
        method: TRICKLE_METHOD,
        class: 'indication',
        transactionId: tid(),
        attributes: [
          usernameAttribute(SESSION),
          { type: StunAttr.Software, value: Buffer.alloc(MAX_TRICKLE_BYTES) },
        ],
      },
      { integrityKey: KEY, fingerprint: true },
    );
    expect(decodeTrickle(padded, KEY, SESSION)).toEqual({ ok: false, reason: 'oversized' });
  });

  it(`refuses more than ${MAX_TRICKLE_CANDIDATES} candidates, and none`, () => {
    expect(decodeTrickle(raw(MAX_TRICKLE_CANDIDATES), KEY, SESSION).ok).toBe(true);
    expect(decodeTrickle(raw(MAX_TRICKLE_CANDIDATES + 1), KEY, SESSION)).toEqual({
      ok: false,
      reason: 'too-many-candidates',
    });
    expect(decodeTrickle(raw(0), KEY, SESSION)).toEqual({ ok: false, reason: 'no-candidates' });
    const nine = Array.from({ length: 9 }, (_, i) => ({ address: '198.51.100.11', port: 1000 + i }));
    expect(() => encodeTrickle(message(nine), KEY, tid())).toThrow(RangeError);
    expect(() => encodeTrickle(message([]), KEY, tid())).toThrow(RangeError);
  });
});
