import { createHash, sign, verify, X509Certificate } from 'node:crypto';

/**
 * Proof that an agent holds the key of the certificate it presents: the server's one-time nonce,
 * the claimed id and the fingerprint, signed with that key. The context string keeps a signature
 * made for this purpose from being replayed as any other.
 */
const CONTEXT = 'mesh-agent/hello-proof/v1';

function payload(nonce: string, agentId: string, fingerprint: string): Buffer {
  return Buffer.from([CONTEXT, nonce, agentId, fingerprint].join('\n'), 'utf8');
}

export interface HelloProof {
  /** The agent's certificate, DER as base64. */
  certificate: string;
  /** Signature of the proof payload with the certificate's key, base64. */
  proof: string;
}

export function signHelloProof(
  identity: { keyPem: string; certPem: string },
  nonce: string,
  agentId: string,
  fingerprint: string,
): HelloProof {
  const der = new X509Certificate(identity.certPem).raw;
  const signature = sign('sha256', payload(nonce, agentId, fingerprint), identity.keyPem);
  return { certificate: der.toString('base64'), proof: signature.toString('base64') };
}

export type ProofCheck = 'ok' | 'bad_certificate' | 'fingerprint_mismatch' | 'bad_signature';

/** Checks a proof against the nonce this connection was given. Never throws on hostile input. */
export function verifyHelloProof(
  claim: HelloProof & { agentId: string; fingerprint: string },
  nonce: string,
): ProofCheck {
  let cert: X509Certificate;
  const der = Buffer.from(claim.certificate, 'base64');
  try {
    cert = new X509Certificate(der);
  } catch {
    return 'bad_certificate';
  }
  if (createHash('sha256').update(cert.raw).digest('hex') !== claim.fingerprint)
    return 'fingerprint_mismatch';
  try {
    const ok = verify(
      'sha256',
      payload(nonce, claim.agentId, claim.fingerprint),
      cert.publicKey,
      Buffer.from(claim.proof, 'base64'),
    );
    return ok ? 'ok' : 'bad_signature';
  } catch {
    return 'bad_signature';
  }
}
