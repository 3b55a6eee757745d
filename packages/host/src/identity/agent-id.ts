import { join } from 'node:path';

/** Hex digits of the fingerprint that a derived agent id carries. */
const DERIVED_ID_HEX = 12;
const DERIVED_ID = new RegExp(`^agent-([0-9a-f]{${DERIVED_ID_HEX}})$`);

/** The id a certificate speaks for by itself: `agent-<first 12 hex digits of its fingerprint>`. */
export function derivedAgentId(fingerprint: string): string {
  return `agent-${fingerprint.slice(0, DERIVED_ID_HEX)}`;
}

/** The configured id, or one derived from the certificate so it is stable and unique per home. */
export function agentIdOf(configuredId: string | undefined, fingerprint: string): string {
  return configuredId ?? derivedAgentId(fingerprint);
}

/**
 * Whether `agentId` has the derived form, and if so whether `fingerprint` is the key it names.
 * `'not-derived'` ids are bound to a key some other way (token file, first use).
 */
export function checkDerivedAgentId(
  agentId: string,
  fingerprint: string,
): 'match' | 'mismatch' | 'not-derived' {
  const prefix = DERIVED_ID.exec(agentId)?.[1];
  if (prefix === undefined) return 'not-derived';
  return fingerprint.startsWith(prefix) ? 'match' : 'mismatch';
}

export function identityDir(home: string): string {
  return join(home, 'identity');
}
