import { createHash, createPrivateKey, webcrypto, X509Certificate } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The agent's persistent TLS identity: the same key and certificate on every run. */
export interface AgentIdentity {
  keyPem: string;
  certPem: string;
  /** SHA-256 of the certificate's DER, lowercase hex without separators. */
  fingerprint: string;
}

const KEY_FILE = 'identity.key.pem';
const CERT_FILE = 'identity.cert.pem';
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const VALID_YEARS = 20;

/** SHA-256 fingerprint of a PEM or DER certificate, as lowercase hex. */
export function certificateFingerprint(cert: string | Uint8Array): string {
  const der = typeof cert === 'string' ? new X509Certificate(cert).raw : cert;
  return createHash('sha256').update(der).digest('hex');
}

/** Accepts `AA:BB:…`, `aabb…` or `sha256:aabb…`; returns lowercase hex, or null when it is not 32 bytes. */
export function normalizeFingerprint(input: string): string | null {
  const hex = input
    .trim()
    .replace(/^sha-?256:/i, '')
    .replace(/[:\s]/g, '')
    .toLowerCase();
  return /^[0-9a-f]{64}$/.test(hex) ? hex : null;
}

/** Loads the identity from `dir`, creating it (files mode 0600) on first use. */
export async function loadOrCreateIdentity(dir: string): Promise<AgentIdentity & { created: boolean }> {
  const keyPath = join(dir, KEY_FILE);
  const certPath = join(dir, CERT_FILE);
  try {
    const [keyPem, certPem] = await Promise.all([readFile(keyPath, 'utf8'), readFile(certPath, 'utf8')]);
    return {
      keyPem,
      certPem,
      fingerprint: checkedFingerprint(keyPem, keyPath, certPem, certPath),
      created: false,
    };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const identity = await generateIdentity();
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // 'wx' so two agents starting at once on one home never overwrite each other's key.
  await writeFile(keyPath, identity.keyPem, { mode: 0o600, flag: 'wx' });
  await writeFile(certPath, identity.certPem, { mode: 0o600, flag: 'wx' });
  return { ...identity, created: true };
}

/** The certificate's fingerprint, once both files parse: a damaged file is named, with the way out. */
function checkedFingerprint(keyPem: string, keyPath: string, certPem: string, certPath: string): string {
  const check = <T>(path: string, what: string, parse: () => T): T => {
    try {
      return parse();
    } catch (error) {
      throw new Error(
        `${path} is not a valid ${what} (${(error as Error).message}). Restore it from a backup, or move ` +
          'both identity files away to create a new identity (peers that pinned the old fingerprint must pin the new one)',
      );
    }
  };
  check(keyPath, 'private key', () => createPrivateKey(keyPem));
  return check(certPath, 'certificate', () => certificateFingerprint(certPem));
}

export async function generateIdentity(commonName = 'mesh-agent'): Promise<AgentIdentity> {
  // Loaded on demand: only the first run of an agent pays for the X.509 library.
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(notBefore);
  notAfter.setFullYear(notAfter.getFullYear() + VALID_YEARS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: webcrypto
      .getRandomValues(new Uint8Array(16))
      .reduce((s, b) => s + b.toString(16).padStart(2, '0'), '01'),
    name: `CN=${commonName}`,
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [new x509.BasicConstraintsExtension(false, undefined, true)],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const keyPem = x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');
  const certPem = cert.toString('pem');
  return { keyPem, certPem, fingerprint: certificateFingerprint(certPem) };
}
