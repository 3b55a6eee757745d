import { Errors } from '@oclif/core';
import { ConfigError } from '../config/errors.js';
import { HandshakeDeniedError, PeerUnavailableError } from '../p2p/errors.js';
import { FingerprintMismatchError, QuicConnectError } from '../quic/errors.js';
import { SignalingClientError } from '../signaling/client.js';
import type { RedeemFailure } from '../tokens/token-cache.js';
import { printable } from '../util/printable.js';
import { MeshError, SERVER_SETTINGS } from './errors.js';

const NEW_TOKEN =
  'ask the peer for a fresh session id and token (it restarts with a new --session-id and --accept-token)';

/**
 * Any failure as a MeshError: what went wrong in words, and what to do about it. Errors of the
 * host's own kinds get their words here, so no command formats them; anything else keeps its message.
 * `command` is the command's id, for pointing at its help.
 */
export function explainError(error: unknown, command?: string): MeshError {
  if (error instanceof MeshError) return error;
  if (error instanceof SignalingClientError) return explainSignaling(error);
  if (error instanceof PeerUnavailableError) return explainUnavailable(error);
  if (error instanceof HandshakeDeniedError) return explainDenied(error.reason);
  if (error instanceof FingerprintMismatchError)
    return new MeshError(
      'fingerprint_mismatch',
      `the peer's certificate is not the one --peer-fingerprint names (it has ${error.actual})`,
      "compare with the fingerprint the peer's `mesh-agent identity` prints",
    );
  if (error instanceof QuicConnectError)
    return new MeshError(
      'peer_unreachable',
      error.message,
      "is the peer's agent running and listening there (mesh-agent run, its --listen)? UDP must reach " +
        'it: check the address and firewalls; through a signaling server (--to), a relay carries the ' +
        'session when UDP is blocked',
    );
  if (error instanceof ConfigError) return new MeshError('config_invalid', error.message, undefined, 2);
  if (error instanceof Errors.CLIError) return explainOclif(error, command);
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    // Scripts get one style of code: a system's EACCES or a peer's TOO_LARGE as eacces, too_large.
    return new MeshError(typeof code === 'string' ? code.toLowerCase() : 'failed', error.message);
  }
  return new MeshError('failed', String(error));
}

function explainSignaling(error: SignalingClientError): MeshError {
  const url = error.url ?? 'the signaling server';
  switch (error.code) {
    case 'refused':
      return new MeshError(
        'server_refused',
        `cannot connect to the signaling server at ${url}: connection refused`,
        `is a server running there? Start one with: mesh-agent server --port ${portOf(url)} (or fix the address in ${SERVER_SETTINGS})`,
      );
    case 'unknown_host':
      return new MeshError(
        'server_unknown_host',
        `cannot connect to the signaling server at ${url}: unknown host "${hostOf(url)}"`,
        `check the host name in ${SERVER_SETTINGS}, and this machine's DNS`,
      );
    case 'connect_timeout':
      return new MeshError(
        'server_timeout',
        error.message,
        `is a server running at that address, and does a firewall let it through? Check the address in ${SERVER_SETTINGS}`,
      );
    case 'rejected':
      return new MeshError(
        'server_rejected',
        `the signaling server refused this agent: ${error.message}`,
        'check signaling.token (MESH_AGENT_TOKEN) and the agent id this server expects',
      );
    case 'disconnected':
      return new MeshError(
        'server_disconnected',
        error.message,
        'try again; if it keeps happening, look at the signaling server',
      );
    default:
      return new MeshError(`signaling_${error.code}`, error.message);
  }
}

function explainUnavailable(error: PeerUnavailableError): MeshError {
  const agent = `"${error.agentId}"`;
  switch (error.code) {
    case 'peer_unknown':
      return new MeshError(
        'peer_unknown',
        `no agent ${agent} is known in your rooms`,
        'list the agents online with: mesh-agent peers (with the same --server and --room)',
      );
    case 'peer_offline':
      return new MeshError(
        'peer_offline',
        `agent ${agent} is not connected right now`,
        'its daemon (mesh-agent run) must be running; mesh-agent peers lists who is online',
      );
    case 'capability_missing':
      return new MeshError(
        'peer_lacks_plugin',
        error.message,
        'the plugin this needs may be disabled on that agent; mesh-agent peers shows what each agent handles',
      );
    default:
      return new MeshError(error.code, error.message);
  }
}

/** Why a peer denies a direct-mode session (TokenCache.redeem), in words, with what to do. */
const DENIALS: Readonly<Record<RedeemFailure, [message: string, hint: string]>> = {
  used: ['the peer already took a session with this token: a direct-mode token works once', NEW_TOKEN],
  expired: ['the direct-mode token has expired', NEW_TOKEN],
  unknown: [
    'the peer does not know this session id',
    'check --session-id against the one the peer was started with',
  ],
  'bad-token': [
    'the peer does not accept this token for the session',
    'check --token-file, MESH_AGENT_SESSION_TOKEN or --token',
  ],
  'wrong-agent': [
    'the peer accepts this session from another agent only',
    "give the peer this agent's id (mesh-agent identity)",
  ],
  'wrong-fingerprint': [
    'the peer accepts this session from another agent only',
    "give the peer this agent's fingerprint for --accept-fingerprint (mesh-agent identity)",
  ],
};

function explainDenied(reason: string): MeshError {
  const known = DENIALS[reason as RedeemFailure];
  if (!known) return new MeshError('session_denied', `the peer denied the session: ${printable(reason)}`);
  return new MeshError(`session_${reason.replace('-', '_')}`, known[0], known[1]);
}

/** oclif's own errors: bad flags and arguments (exit 2), or `this.error` of a command. */
function explainOclif(error: Errors.CLIError, command?: string): MeshError {
  const exitCode = error.oclif?.exit ?? 1;
  // oclif appends its own pointer to --help; the hint says it once.
  const message = error.message.replace(/\s*See more help with --help\s*$/, '').trim();
  if (exitCode !== 2) return new MeshError('failed', message, undefined, exitCode);
  // oclif's ids join topics with ':'; the user types them with spaces (config set).
  const typed = command ? `${command.replace(/:/g, ' ')} ` : '';
  return new MeshError('usage', message, `see: mesh-agent ${typed}--help`, 2);
}

function hostOf(url: string): string {
  return URL.canParse(url) ? new URL(url).hostname : url;
}

function portOf(url: string): string {
  if (!URL.canParse(url)) return '7300'; // the server's default
  const parsed = new URL(url);
  return parsed.port || (parsed.protocol === 'wss:' ? '443' : '80');
}

/** How a failure reads on a terminal: the message, then what to do. */
export function formatError(error: MeshError): string {
  return `error: ${error.message}\n${error.hint ? `hint:  ${error.hint}\n` : ''}`;
}

/** How a failure reads with --json: only what a script needs, never the CLI's internals. */
export function errorJson(error: MeshError): {
  error: { code: string; message: string; hint: string | null };
} {
  return { error: { code: error.code, message: error.message, hint: error.hint ?? null } };
}
