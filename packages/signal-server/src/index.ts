export { type AuthResult, TokenAuthenticator, type TokenEntry } from './auth.js';
export { DEFAULT_SIGNAL_LIMITS, LimitsError, resolveSignalLimits, type SignalLimits } from './limits.js';
export { type AgentConnection, Presence } from './presence.js';
export { DEFAULT_RATE_LIMIT, type RateLimitOptions, TokenBucket } from './rate-limit.js';
export * from './relay/index.js';
export {
  MIN_TOKEN_LENGTH,
  SignalServer,
  type SignalServerAddress,
  SignalServerConfigError,
  type SignalServerOptions,
} from './server.js';
export {
  StunResponder,
  type StunResponderAddress,
  type StunResponderCounters,
  type StunResponderOptions,
} from './stun-responder.js';
export { parseTokenFile, parseTokenList, parseTokenSpec, TokenParseError } from './tokens.js';
export { SERVER_VERSION } from './version.js';
