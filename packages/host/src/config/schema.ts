import { LOG_FORMATS, LOG_LEVELS } from '../log/levels.js';
import { type QuicOptions, quicOptionsSchema } from '../quic/options.js';
import { DEFAULT_ROOM } from '../signaling/constants.js';

/** JSON schema of the host's own config; each plugin adds the schema of its `plugins.<name>` section. */
export const hostConfigSchema = {
  $id: 'mesh-agent/host-config',
  type: 'object',
  additionalProperties: false,
  properties: {
    agent: {
      type: 'object',
      additionalProperties: false,
      properties: {
        id: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,128}$' },
        home: { type: 'string', minLength: 1 },
      },
    },
    signaling: {
      type: 'object',
      additionalProperties: false,
      properties: {
        // One server, or several nodes of a cluster to fail over between (a list, or comma-separated).
        // errorMessage: what to say instead of the rules that failed inside (see issuesFromAjv).
        url: {
          errorMessage: 'must start with ws:// or wss://',
          anyOf: [
            { type: 'string', pattern: '^wss?://' },
            {
              type: 'array',
              minItems: 1,
              maxItems: 16,
              items: { type: 'string', pattern: '^wss?://', errorMessage: 'must start with ws:// or wss://' },
            },
          ],
        },
        token: { type: 'string', minLength: 1 },
        room: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,128}$', default: DEFAULT_ROOM },
        reconnectInitialMs: { type: 'integer', minimum: 10, default: 250 },
        reconnectMaxMs: { type: 'integer', minimum: 100, default: 10_000 },
      },
    },
    quic: {
      type: 'object',
      additionalProperties: false,
      properties: {
        host: { type: 'string', default: '0.0.0.0' },
        port: { type: 'integer', minimum: 0, maximum: 65535, default: 0 },
        ...quicOptionsSchema.properties,
      },
    },
    nat: {
      type: 'object',
      additionalProperties: false,
      properties: {
        // host:port of STUN servers (two on one host tell the NAT kind); default: the signaling server's.
        stunServers: {
          type: 'array',
          maxItems: 8,
          items: { type: 'string', pattern: '^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+):[0-9]{1,5}$' },
        },
        // Hole punching and the relay for brokered sessions; false: dial the peer's addresses only.
        traversal: { type: 'boolean', default: true },
      },
    },
    p2p: {
      type: 'object',
      additionalProperties: false,
      properties: {
        // A stream that has not said what it is (STREAM_OPEN) after this long is closed.
        streamOpenTimeoutMs: { type: 'integer', minimum: 100, maximum: 600_000, default: 10_000 },
        // Streams one authenticated peer may have open on a connection at once.
        maxStreamsPerPeer: { type: 'integer', minimum: 1, maximum: 65_535, default: 128 },
      },
    },
    tokens: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxEntries: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 4096 },
        maxPerPeer: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 256 },
      },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      properties: {
        level: { enum: [...LOG_LEVELS], default: 'info' },
        // Unset: text on a terminal, JSON otherwise.
        format: { enum: [...LOG_FORMATS] },
      },
    },
    plugins: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        properties: { enabled: { type: 'boolean', default: true } },
      },
    },
  },
} as const;

export interface HostConfig {
  agent: { id?: string; home?: string };
  signaling: {
    url?: string | string[];
    token?: string;
    room: string;
    reconnectInitialMs: number;
    reconnectMaxMs: number;
  };
  quic: { host: string; port: number } & Partial<QuicOptions>;
  nat: { stunServers?: string[]; traversal: boolean };
  p2p: { streamOpenTimeoutMs: number; maxStreamsPerPeer: number };
  tokens: { maxEntries: number; maxPerPeer: number };
  log: { level: (typeof LOG_LEVELS)[number]; format?: (typeof LOG_FORMATS)[number] };
  plugins: Record<string, PluginSection>;
}

export interface PluginSection {
  enabled?: boolean;
  [key: string]: unknown;
}
