import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { AGENT_ID_PATTERN } from '@mesh-agent/host';

/**
 * Relay grants: what lets an agent bind one side of one session on the relay. The signal server
 * mints one per agent of a P2P session; the relay checks it with the shared secret alone.
 *
 * Text form: base64url(JSON payload) "." base64url(HMAC-SHA256(secret, payload part)).
 */

/** Shortest secret accepted: the MAC is only as strong as the key. */
export const MIN_RELAY_SECRET_BYTES = 32;
/** Longest grant text accepted; longer text is refused before any work is done on it. */
export const MAX_RELAY_GRANT_LENGTH = 1024;

export interface RelayGrant {
  sessionId: string;
  /** The agent this grant lets bind. */
  agentId: string;
  /** The other agent of the session. */
  peerId: string;
  /** Unix time in ms after which the grant no longer binds. */
  expiresAt: number;
}

export type RelayGrantRefusal = 'malformed' | 'bad_mac' | 'expired';

export type RelayGrantCheck = { ok: true; grant: RelayGrant } | { ok: false; reason: RelayGrantRefusal };

/** Raised for a secret or grant fields that cannot be minted or checked. */
export class RelayGrantError extends Error {
  override readonly name = 'RelayGrantError';
}

const FORMAT_VERSION = 1;
const MAC_BYTES = 32;
// Session ids use the same alphabet as agent ids (the signal server mints UUIDs).
const ID = new RegExp(AGENT_ID_PATTERN);
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** Payload field names on the wire: short, since the grant travels in every bind. */
interface GrantPayload {
  v: number;
  s: string;
  a: string;
  p: string;
  e: number;
}

export function mintRelayGrant(secret: Buffer, grant: RelayGrant): string {
  checkRelaySecret(secret);
  const problem = grantProblem(grant);
  if (problem) throw new RelayGrantError(`cannot mint a relay grant: ${problem}`);
  const payload: GrantPayload = {
    v: FORMAT_VERSION,
    s: grant.sessionId,
    a: grant.agentId,
    p: grant.peerId,
    e: grant.expiresAt,
  };
  const payloadPart = Buffer.from(JSON.stringify(payload)).toString('base64url');
  const text = `${payloadPart}.${mac(secret, payloadPart).toString('base64url')}`;
  if (text.length > MAX_RELAY_GRANT_LENGTH) {
    throw new RelayGrantError(`cannot mint a relay grant: longer than ${MAX_RELAY_GRANT_LENGTH} characters`);
  }
  return text;
}

/** Checks the MAC (in constant time) before reading the payload, then the expiry. */
export function verifyRelayGrant(secret: Buffer, text: unknown, now: number = Date.now()): RelayGrantCheck {
  checkRelaySecret(secret);
  if (typeof text !== 'string' || text.length > MAX_RELAY_GRANT_LENGTH) return refuse('malformed');
  const parts = text.split('.');
  if (parts.length !== 2) return refuse('malformed');
  const [payloadPart, macPart] = parts as [string, string];
  const given = decodeCanonical(macPart);
  if (!BASE64URL.test(payloadPart) || !given || given.length !== MAC_BYTES) return refuse('malformed');
  if (!timingSafeEqual(given, mac(secret, payloadPart))) return refuse('bad_mac');
  const grant = readPayload(payloadPart);
  if (!grant) return refuse('malformed');
  if (now >= grant.expiresAt) return refuse('expired');
  return { ok: true, grant };
}

function refuse(reason: RelayGrantRefusal): RelayGrantCheck {
  return { ok: false, reason };
}

/** Throws a RelayGrantError unless `secret` is a Buffer of at least MIN_RELAY_SECRET_BYTES. */
export function checkRelaySecret(secret: Buffer): void {
  if (!Buffer.isBuffer(secret) || secret.length < MIN_RELAY_SECRET_BYTES) {
    throw new RelayGrantError(`the relay secret must be at least ${MIN_RELAY_SECRET_BYTES} bytes`);
  }
}

function mac(secret: Buffer, payloadPart: string): Buffer {
  return createHmac('sha256', secret).update(payloadPart, 'ascii').digest();
}

/**
 * base64url that decodes to exactly one byte string: Node's decoder skips stray characters and
 * ignores the spare low bits of the last one, so two texts could otherwise pass as the same MAC.
 */
function decodeCanonical(text: string): Buffer | undefined {
  if (!BASE64URL.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}

function readPayload(payloadPart: string): RelayGrant | undefined {
  let payload: Partial<GrantPayload>;
  try {
    payload = JSON.parse(Buffer.from(payloadPart, 'base64url').toString('utf8')) as Partial<GrantPayload>;
  } catch {
    return undefined;
  }
  if (payload?.v !== FORMAT_VERSION) return undefined;
  const grant = { sessionId: payload.s, agentId: payload.a, peerId: payload.p, expiresAt: payload.e };
  return grantProblem(grant) ? undefined : (grant as RelayGrant);
}

/** What is wrong with the grant's fields, or undefined when nothing is. */
function grantProblem(grant: Partial<Record<keyof RelayGrant, unknown>>): string | undefined {
  const { sessionId, agentId, peerId, expiresAt } = grant;
  if (typeof sessionId !== 'string' || !ID.test(sessionId)) return `sessionId must match ${AGENT_ID_PATTERN}`;
  if (typeof agentId !== 'string' || !ID.test(agentId)) return `agentId must match ${AGENT_ID_PATTERN}`;
  if (typeof peerId !== 'string' || !ID.test(peerId)) return `peerId must match ${AGENT_ID_PATTERN}`;
  if (agentId === peerId) return 'agentId and peerId must differ';
  if (typeof expiresAt !== 'number' || !Number.isSafeInteger(expiresAt) || expiresAt <= 0) {
    return 'expiresAt must be a positive integer (Unix ms)';
  }
  return undefined;
}

export const RELAY_SECRET_ENV = 'MESH_RELAY_SECRET';

/** The relay secret from `file`, else from MESH_RELAY_SECRET; undefined when neither is set. */
export async function loadRelaySecret(file: string | undefined): Promise<Buffer | undefined> {
  if (file) return parseRelaySecret(await readFile(file, 'utf8'), file);
  const fromEnv = process.env[RELAY_SECRET_ENV];
  return fromEnv ? parseRelaySecret(fromEnv, RELAY_SECRET_ENV) : undefined;
}

/**
 * The secret as an operator writes it (a file or an environment variable): the UTF-8 bytes of the
 * text without surrounding whitespace, so `openssl rand -base64 48 > secret` works as is.
 * `source` names where it came from in the error; the secret itself is never in a message.
 */
export function parseRelaySecret(text: string, source: string): Buffer {
  const secret = Buffer.from(text.trim(), 'utf8');
  if (secret.length < MIN_RELAY_SECRET_BYTES) {
    throw new RelayGrantError(
      `the relay secret from ${source} is ${secret.length} bytes; it must be at least ${MIN_RELAY_SECRET_BYTES} (e.g. openssl rand -base64 48)`,
    );
  }
  return secret;
}
