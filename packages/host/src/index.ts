export { loadAgentConfig, redactConfig, type AgentConfig } from './cli/agent-config.js';
export { MeshCommand, UsageError, type MeshArgs, type MeshFlags } from './cli/base-command.js';
export { ConfigError, type ConfigIssue } from './config/errors.js';
export { CONFIG_ENV } from './config/env.js';
export { agentHome, readConfig, validateConfig } from './config/load.js';
export type { HostConfig, PluginSection } from './config/schema.js';
export { createHooks, type HostHooks, type PluginEventPayload, type StreamHook } from './hooks/hooks.js';
export { agentIdOf, identityDir } from './identity/agent-id.js';
export {
  certificateFingerprint,
  generateIdentity,
  loadOrCreateIdentity,
  normalizeFingerprint,
  type AgentIdentity,
} from './identity/identity.js';
export { createLogger, LOG_LEVELS, type Logger, type LogLevel } from './log/logger.js';
export type { IncomingStream, PeerInfo, StreamOpenHeader } from './p2p/types.js';
export { definePlugin, type MeshPlugin, type PluginHost } from './plugins/types.js';
export { type SessionGrant, type SessionSummary, TokenCache } from './tokens/token-cache.js';
