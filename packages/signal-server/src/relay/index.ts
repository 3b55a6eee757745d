export {
  checkRelaySecret,
  MAX_RELAY_GRANT_LENGTH,
  MIN_RELAY_SECRET_BYTES,
  mintRelayGrant,
  parseRelaySecret,
  type RelayGrant,
  type RelayGrantCheck,
  RelayGrantError,
  type RelayGrantRefusal,
  verifyRelayGrant,
} from './grants.js';
export { RelayHub, type RelayHubOptions, type RelayHubStats } from './hub.js';
export { DEFAULT_RELAY_LIMITS, type RelayLimits, resolveRelayLimits } from './limits.js';
export { pathOf, RelayServer, type RelayServerAddress, type RelayServerOptions } from './relay-server.js';
