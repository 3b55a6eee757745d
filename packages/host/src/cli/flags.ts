import { Flags } from '@oclif/core';
import { normalizeFingerprint } from '../identity/identity.js';
import type { PeerTarget } from '../plugins/types.js';
import { LOCAL_SIGNAL_URL } from '../signaling/constants.js';
import type { SessionGrant } from '../tokens/token-cache.js';
import { UsageError } from './errors.js';
import { secretFileFlag } from './secret-flags.js';

/** `host:port` or `[v6]:port` into its parts; a UsageError names the flag otherwise. */
export function parseHostPort(value: string, what: string): { host: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(value.trim());
  const port = match ? Number(match[2]) : Number.NaN;
  if (!match || port < 0 || port > 65535)
    throw new UsageError(`${what} must look like 127.0.0.1:7400, got "${value}"`);
  return { host: match[1] as string, port };
}

/** Flags shared by every command that talks to the control plane. */
export const signalingFlags = {
  server: Flags.string({
    summary: 'Signaling server URL (overrides signaling.url and MESH_AGENT_SERVER).',
    helpValue: LOCAL_SIGNAL_URL,
  }),
  room: Flags.string({ summary: 'Room to join (overrides signaling.room).' }),
};

export function signalingOverrides(flags: { server?: string; room?: string }): Record<string, unknown> {
  return { signaling: { url: flags.server, room: flags.room } };
}

/** Flags of every command that reaches one peer: brokered (`--to`) or direct mode. */
export const peerFlags = {
  to: Flags.string({
    summary: 'Agent id of the peer; the signaling server brokers the session.',
    exclusive: ['peer-addr'],
  }),
  'peer-addr': Flags.string({
    summary: "Direct mode: the peer's QUIC address (no signaling server).",
    helpValue: '127.0.0.1:7400',
    dependsOn: ['session-id', 'peer-fingerprint'],
  }),
  'session-id': Flags.string({ summary: 'Direct mode: the session id the peer accepts.' }),
  token: Flags.string({
    summary: 'Direct mode: the token the peer accepts (better: --token-file or MESH_AGENT_SESSION_TOKEN).',
    env: 'MESH_AGENT_SESSION_TOKEN',
  }),
  'token-file': secretFileFlag('token', 'the direct-mode token'),
  'peer-fingerprint': Flags.string({
    summary: "Direct mode: the peer's certificate fingerprint (mesh-agent identity).",
  }),
  ...signalingFlags,
};

/** The peer a command's flags name; throws a UsageError when they name none or are malformed. */
export function targetFromFlags(flags: {
  to?: string;
  'peer-addr'?: string;
  'session-id'?: string;
  token?: string;
  'token-file'?: string;
  'peer-fingerprint'?: string;
}): PeerTarget {
  if (flags.to) return { agentId: flags.to };
  if (!flags['peer-addr'])
    throw new UsageError(
      'name the peer: --to <agent-id>, or --peer-addr with --session-id, --token and --peer-fingerprint',
    );
  const token = flags.token ?? flags['token-file'];
  if (!token)
    throw new UsageError('--peer-addr needs a token: --token-file, MESH_AGENT_SESSION_TOKEN or --token');
  const addr = parseHostPort(flags['peer-addr'], '--peer-addr');
  const fingerprint = normalizeFingerprint(flags['peer-fingerprint'] ?? '');
  if (!fingerprint) throw new UsageError('--peer-fingerprint must be a SHA-256 fingerprint (64 hex digits)');
  return {
    address: addr.host,
    port: addr.port,
    sessionId: flags['session-id'] as string,
    token,
    fingerprint,
  };
}

/** Flags of a command that lets one peer dial in with a token handed over out of band (direct mode). */
export const acceptFlags = {
  'session-id': Flags.string({ summary: 'Direct mode: the session id the peer presents.' }),
  'accept-token': Flags.string({
    summary:
      'Direct mode: accept one session with this token (at least 16 characters; better: --accept-token-file or MESH_AGENT_ACCEPT_TOKEN).',
    env: 'MESH_AGENT_ACCEPT_TOKEN',
    dependsOn: ['session-id'],
  }),
  'accept-token-file': secretFileFlag('accept-token', 'the direct-mode token to accept'),
  'accept-fingerprint': Flags.string({
    summary: 'Direct mode: only a peer with this certificate fingerprint may use the token.',
  }),
  'accept-ttl': Flags.integer({
    summary: 'Direct mode: seconds the token stays valid.',
    default: 600,
    min: 1,
    max: 86_400,
  }),
};

/** The direct-mode grant the accept flags describe, or undefined without --accept-token. */
export function grantFromAcceptFlags(flags: {
  'session-id'?: string;
  'accept-token'?: string;
  'accept-token-file'?: string;
  'accept-fingerprint'?: string;
  'accept-ttl'?: number;
}): Omit<SessionGrant, 'role' | 'peerAddresses'> | undefined {
  const token = flags['accept-token'] ?? flags['accept-token-file'];
  if (!token) return undefined;
  if (!flags['session-id']) throw new UsageError('--accept-token needs --session-id');
  if (token.length < 16) throw new UsageError('--accept-token must be at least 16 characters');
  const fingerprint = flags['accept-fingerprint']
    ? normalizeFingerprint(flags['accept-fingerprint'])
    : undefined;
  if (fingerprint === null)
    throw new UsageError('--accept-fingerprint must be a SHA-256 fingerprint (64 hex digits)');
  return {
    sessionId: flags['session-id'],
    token,
    expiresAt: Date.now() + (flags['accept-ttl'] ?? 600) * 1000,
    peerFingerprint: fingerprint,
  };
}
