import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { answerBinding } from '../../src/nat/binding-answer.js';
import { BINDING, type DecodedStunMessage, decodeStun, type StunMessage } from '../../src/nat/stun.js';
import {
  readErrorCode,
  readSoftware,
  readUnknownAttributes,
  readXorMappedAddress,
} from '../../src/nat/stun-attributes.js';
import { verifyIntegrity } from '../../src/nat/stun-integrity.js';
import { SAMPLE_REQUEST } from './rfc5769.js';

function parse(packet: Buffer | undefined): DecodedStunMessage {
  const result = decodeStun(packet!);
  if (!result.ok) throw new Error(result.reason);
  return result.message;
}

const request: StunMessage = {
  method: BINDING,
  class: 'request',
  transactionId: randomBytes(12),
  attributes: [],
};
const source = { address: '198.51.100.7', port: 40_000 };

describe('answerBinding', () => {
  it('answers a Binding request with the source as XOR-MAPPED-ADDRESS, SOFTWARE and FINGERPRINT', () => {
    const answer = parse(answerBinding(request, source, { software: 'mesh-agent test' }));
    expect(answer).toMatchObject({ method: BINDING, class: 'success', fingerprint: true });
    expect(answer.transactionId).toEqual(request.transactionId);
    expect(readXorMappedAddress(answer)).toEqual(source);
    expect(readSoftware(answer)).toBe('mesh-agent test');
  });

  it('leaves SOFTWARE out unless given one', () => {
    expect(readSoftware(parse(answerBinding(request, source)))).toBeUndefined();
  });

  it('answers a dual-stack socket’s IPv4-mapped source with its IPv4 address', () => {
    const answer = parse(answerBinding(request, { address: '::ffff:198.51.100.7', port: 40_000 }));
    expect(readXorMappedAddress(answer)).toEqual(source);
  });

  it('answers IPv6 sources', () => {
    const v6 = { address: '2001:db8::7', port: 1 };
    expect(readXorMappedAddress(parse(answerBinding(request, v6)))).toEqual(v6);
  });

  it('signs the answer when given a key', () => {
    const key = randomBytes(32);
    const answer = parse(answerBinding(request, source, { integrityKey: key }));
    expect(verifyIntegrity(answer, key)).toBe(true);
  });

  it('answers 420 Unknown Attribute to a request with comprehension-required attributes it does not know', () => {
    // The RFC 5769 sample request carries ICE's PRIORITY (0x0024), which is comprehension-required.
    const sample = parse(SAMPLE_REQUEST);
    const answer = parse(answerBinding(sample, source));
    expect(answer).toMatchObject({ class: 'error', fingerprint: true });
    expect(answer.transactionId).toEqual(sample.transactionId);
    expect(readErrorCode(answer)).toEqual({ code: 420, reason: 'Unknown Attribute' });
    expect(readUnknownAttributes(answer)).toEqual([0x0024]);
    expect(readXorMappedAddress(answer)).toBeUndefined();

    const understood = new Set([0x0024, 0x0006, 0x0008]);
    expect(parse(answerBinding(sample, source, { understood })).class).toBe('success');
  });

  it.each<Partial<StunMessage>>([
    { class: 'indication' },
    { class: 'success' },
    { class: 'error' },
    { method: 0x003 }, // Allocate
  ])('does not answer %o', (change) => {
    expect(answerBinding({ ...request, ...change }, source)).toBeUndefined();
  });
});
