import { join } from 'node:path';

/** The configured id, or one derived from the certificate so it is stable and unique per home. */
export function agentIdOf(configuredId: string | undefined, fingerprint: string): string {
  return configuredId ?? `agent-${fingerprint.slice(0, 12)}`;
}

export function identityDir(home: string): string {
  return join(home, 'identity');
}
