import { describe, expect, it } from 'vitest';
import { checkDerivedAgentId, derivedAgentId } from '../../src/identity/agent-id.js';
import { generateIdentity } from '../../src/identity/identity.js';
import { signHelloProof, verifyHelloProof } from '../../src/identity/proof.js';

const [owner, other] = await Promise.all([generateIdentity(), generateIdentity()]);
const NONCE = 'n0nce-'.padEnd(43, 'x');

function claim(overrides: Partial<Parameters<typeof verifyHelloProof>[0]> = {}) {
  return {
    ...signHelloProof(owner, NONCE, 'alice', owner.fingerprint),
    agentId: 'alice',
    fingerprint: owner.fingerprint,
    ...overrides,
  };
}

describe('hello proof of key possession', () => {
  it('verifies a proof made with the certificate’s key for this nonce, id and fingerprint', () => {
    expect(verifyHelloProof(claim(), NONCE)).toBe('ok');
  });

  it('refuses another nonce, another id, another key, another certificate and garbage', () => {
    expect(verifyHelloProof(claim(), `${NONCE}y`)).toBe('bad_signature');
    expect(verifyHelloProof(claim({ agentId: 'mallory' }), NONCE)).toBe('bad_signature');
    const foreignSignature = signHelloProof(other, NONCE, 'alice', owner.fingerprint).proof;
    expect(verifyHelloProof(claim({ proof: foreignSignature }), NONCE)).toBe('bad_signature');
    const otherCert = signHelloProof(other, NONCE, 'alice', owner.fingerprint).certificate;
    expect(verifyHelloProof(claim({ certificate: otherCert }), NONCE)).toBe('fingerprint_mismatch');
    expect(verifyHelloProof(claim({ certificate: 'AAAA' }), NONCE)).toBe('bad_certificate');
    expect(verifyHelloProof(claim({ proof: 'AAAA' }), NONCE)).toBe('bad_signature');
  });
});

describe('derived agent ids', () => {
  it('speak for exactly the key whose fingerprint they carry', () => {
    const id = derivedAgentId(owner.fingerprint);
    expect(id).toMatch(/^agent-[0-9a-f]{12}$/);
    expect(checkDerivedAgentId(id, owner.fingerprint)).toBe('match');
    expect(checkDerivedAgentId(id, other.fingerprint)).toBe('mismatch');
    expect(checkDerivedAgentId('alice', other.fingerprint)).toBe('not-derived');
    expect(checkDerivedAgentId('agent-XYZ', other.fingerprint)).toBe('not-derived');
  });
});
