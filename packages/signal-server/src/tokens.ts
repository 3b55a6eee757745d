import { AGENT_ID_PATTERN } from '@mesh-agent/host';
import type { TokenEntry } from './auth.js';

export class TokenParseError extends Error {
  override readonly name = 'TokenParseError';
}

const AGENT_ID = new RegExp(AGENT_ID_PATTERN);

/**
 * One token spec: `token`, or `agentId:token` to bind the token to that agent id.
 * Errors name `where` (a file line, a flag) and never echo the token itself.
 */
export function parseTokenSpec(spec: string, where: string): TokenEntry {
  const text = spec.trim();
  if (text.length === 0) throw new TokenParseError(`${where}: empty token`);
  const colon = text.indexOf(':');
  if (colon === -1) return { token: text };
  const agentId = text.slice(0, colon).trim();
  const token = text.slice(colon + 1).trim();
  if (!AGENT_ID.test(agentId)) {
    throw new TokenParseError(
      `${where}: "agentId:token" expected, and the agent id may use only A-Z a-z 0-9 . _ -`,
    );
  }
  if (token.length === 0) throw new TokenParseError(`${where}: empty token after "${agentId}:"`);
  return { token, agentId };
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
