import { AGENT_ID_PATTERN, normalizeFingerprint, ROOM_PATTERN } from '@mesh-agent/host';
import { ANY_ROOM, type TokenEntry } from './auth.js';

export class TokenParseError extends Error {
  override readonly name = 'TokenParseError';
}

const AGENT_ID = new RegExp(AGENT_ID_PATTERN);
const ROOM = new RegExp(ROOM_PATTERN);

/**
 * One token spec: `[agentId:]token [rooms=a+b|*] [fingerprint=<sha256 hex>]`.
 * - `agentId:` binds the token to that agent id;
 * - `rooms=` names the rooms the holder may join, `+`-separated (room names cannot contain `+`),
 *   or `*` for any room; without it, only the default room;
 * - `fingerprint=` pins the agent id to one certificate from the start (else: first use).
 * Errors name `where` (a file line, a flag) and never echo the token itself.
 */
export function parseTokenSpec(spec: string, where: string): TokenEntry {
  const words = spec.trim().split(/\s+/);
  const attributes: string[] = [];
  while (words.length > 1 && /^[a-z]+=/.test(words.at(-1)!)) attributes.unshift(words.pop()!);
  // "alice: token" (a space after the colon) reads as "alice:token".
  const head = words.length === 2 && words[0]!.endsWith(':') ? words.join('') : words[0]!;
  if (head.length === 0) throw new TokenParseError(`${where}: empty token`);
  if (words.length > 1 && head === words[0]) {
    throw new TokenParseError(`${where}: expected "[agentId:]token [rooms=a+b] [fingerprint=…]"`);
  }
  const entry = parseHead(head, where);
  for (const attribute of attributes) applyAttribute(entry, attribute, where);
  if (entry.fingerprint !== undefined && entry.agentId === undefined) {
    throw new TokenParseError(`${where}: fingerprint= needs an agent id ("agentId:token fingerprint=…")`);
  }
  return entry;
}

function parseHead(head: string, where: string): TokenEntry {
  const colon = head.indexOf(':');
  if (colon === -1) return { token: head };
  const agentId = head.slice(0, colon);
  const token = head.slice(colon + 1);
  if (!AGENT_ID.test(agentId)) {
    throw new TokenParseError(
      `${where}: "agentId:token" expected, and the agent id may use only A-Z a-z 0-9 . _ -`,
    );
  }
  if (token.length === 0) throw new TokenParseError(`${where}: empty token after "${agentId}:"`);
  return { token, agentId };
}

function applyAttribute(entry: TokenEntry, attribute: string, where: string): void {
  const eq = attribute.indexOf('=');
  const key = attribute.slice(0, eq);
  const value = attribute.slice(eq + 1);
  if (key === 'rooms') {
    if (value === '*') {
      entry.rooms = ANY_ROOM;
      return;
    }
    const rooms = value.split('+');
    const bad = rooms.find((room) => !ROOM.test(room));
    if (bad !== undefined) {
      throw new TokenParseError(
        `${where}: rooms= takes room names (A-Z a-z 0-9 . _ -) joined by "+", or "*"; got "${bad}"`,
      );
    }
    entry.rooms = rooms;
    return;
  }
  if (key === 'fingerprint') {
    const fingerprint = normalizeFingerprint(value);
    if (!fingerprint) throw new TokenParseError(`${where}: fingerprint= needs 64 hex digits (SHA-256)`);
    entry.fingerprint = fingerprint;
    return;
  }
  throw new TokenParseError(`${where}: unknown attribute "${key}" (expected rooms= or fingerprint=)`);
}

/** Token specs from flags or a comma-separated environment variable. */
export function parseTokenList(specs: readonly string[], source: string): TokenEntry[] {
  return specs
    .flatMap((spec) => spec.split(','))
    .filter((spec) => spec.trim().length > 0)
    .map((spec, index) => parseTokenSpec(spec, `${source} #${index + 1}`));
}

/** A token file: one spec per line; blank lines and `#` comments are skipped. */
export function parseTokenFile(text: string, source: string): TokenEntry[] {
  const entries: TokenEntry[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    const trimmed = line.trim();
    if (trimmed.length === 0 || trimmed.startsWith('#')) return;
    entries.push(parseTokenSpec(trimmed, `${source}:${index + 1}`));
  });
  return entries;
}
