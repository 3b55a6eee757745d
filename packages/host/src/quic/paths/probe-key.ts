import { createHmac } from 'node:crypto';

/**
 * The key that signs hole-punching probes (STUN MESSAGE-INTEGRITY-SHA256), derived from the
 * session token that only the two agents and the server know: a probe from anyone else fails
 * its MAC, and the token itself never travels in a probe.
 */
export function probeKey(sessionToken: string): Buffer {
  return createHmac('sha256', sessionToken).update('mesh-agent/probe/v1').digest();
}
