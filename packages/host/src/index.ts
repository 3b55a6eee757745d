export { type AgentConfig, loadAgentConfig } from './cli/agent-config.js';
export { type MeshArgs, MeshCommand, type MeshFlags, type PluginContext } from './cli/base-command.js';
export { createHost, untilSignal } from './cli/create-host.js';
export { MeshError, missingServer, PartialFailure, UsageError } from './cli/errors.js';
export { explainError } from './cli/explain-error.js';
export { ExplainedCommand } from './cli/explained-command.js';
export {
  acceptFlags,
  grantFromAcceptFlags,
  parseHostPort,
  peerFlags,
  signalingFlags,
  signalingOverrides,
  targetFromFlags,
} from './cli/flags.js';
export { readSecretFile, secretFileFlag } from './cli/secret-flags.js';
export { CONFIG_ENV } from './config/env.js';
export { ConfigError, type ConfigIssue } from './config/errors.js';
export { agentHome, readConfig } from './config/load.js';
export type { HostConfig, PluginSection } from './config/schema.js';
export { userPath } from './config/user-path.js';
export { validateConfig } from './config/validate.js';
export {
  createHooks,
  type EventLine,
  type HostHooks,
  type PluginEventPayload,
  type StreamHook,
} from './hooks/hooks.js';
export { Host, type HostMode, type HostStartOptions } from './host/host.js';
export type { PeerStanding } from './host/peer-standings.js';
export { agentIdOf, checkDerivedAgentId, derivedAgentId, identityDir } from './identity/agent-id.js';
export {
  type AgentIdentity,
  certificateFingerprint,
  generateIdentity,
  loadOrCreateIdentity,
  normalizeFingerprint,
} from './identity/identity.js';
export { type HelloProof, type ProofCheck, signHelloProof, verifyHelloProof } from './identity/proof.js';
export {
  createLogger,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFormat,
  type Logger,
  type LogLevel,
} from './log/logger.js';
export { REDACTED, redactSecrets, redactText } from './log/redact.js';
export { HandshakeDeniedError, PeerUnavailableError, StreamRejectedError } from './p2p/errors.js';
export type { PeerConnection, PeerRoute } from './p2p/peer-connection.js';
export type { IncomingStream, PeerInfo, StreamOpenHeader } from './p2p/types.js';
export { PluginDependencyError } from './plugins/dependency-error.js';
export {
  type AnyMeshPlugin,
  type ApiOf,
  type AppliedPlugin,
  type ConfigOf,
  type DependencyApis,
  definePlugin,
  type MeshPlugin,
  type NoDependencies,
  type OpenedStream,
  type PeerTarget,
  type PluginHost,
} from './plugins/types.js';
export * from './quic/index.js';
export * from './signaling/client.js';
export * from './signaling/protocol.js';
export { type SessionGrant, type SessionSummary, TokenCache } from './tokens/token-cache.js';
export { formatBytes } from './util/format-bytes.js';
export { printable } from './util/printable.js';
export { TimeoutError, withTimeout } from './util/timeout.js';
export * from './wire/index.js';
