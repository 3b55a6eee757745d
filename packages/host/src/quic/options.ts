/** Tunables of the QUIC data plane. Every field has a default; config may override any of them. */
export interface QuicOptions {
  /** Largest UDP payload sent to peers off this machine (quiche caps packets at 16383); 1350 fits common paths. */
  maxUdpPayload: number;
  /** UDP payload toward peers on loopback (127.0.0.0/8, ::1), where no path MTU limits it. */
  loopbackUdpPayload: number;
  congestionControl: CongestionControl;
  /** Initial connection-level flow-control window (bytes); quiche grows it up to `maxConnectionWindow`. */
  initialMaxData: number;
  /** Initial per-stream flow-control window (bytes); quiche grows it up to `maxStreamWindow`. */
  initialMaxStreamData: number;
  maxStreamWindow: number;
  maxConnectionWindow: number;
  /** Bidirectional streams the peer may have open at once. */
  maxConcurrentStreams: number;
  /** Connections peers may have open to this endpoint at once, authenticated or not. */
  maxIncomingConnections: number;
  /** Of those, how many may come from one IP address (agents behind one NAT share theirs). */
  maxIncomingPerAddress: number;
  /** A connection with no traffic for this long is closed. */
  idleTimeoutMs: number;
  /** Interval of keep-alive probes on an idle connection; 0 disables them. */
  keepAliveMs: number;
  /** How long `connect()` waits for the handshake to finish. */
  handshakeTimeoutMs: number;
  /**
   * A direct connection (no relay to fall back to) whose peer answers nothing for about this long,
   * while owed a reply (or the rest of a stream it was sending on), ends with "stopped answering"
   * (or, dialling, "nothing answers") instead of waiting for the idle or handshake timeout; 0
   * disables it. Brokered sessions keep their relay fallback (see DirectLiveness in
   * punch-session.ts).
   */
  deadPeerMs: number;
  /** SO_RCVBUF / SO_SNDBUF of the UDP socket (the kernel may cap it). */
  socketBufferBytes: number;
  /** 'worker' runs UDP and quiche on a worker thread (keeps the main event loop responsive); 'inline' runs them on the calling thread. */
  driver: 'worker' | 'inline';
}

export const CONGESTION_CONTROLS = ['cubic', 'reno', 'bbr', 'bbr2'] as const;
export type CongestionControl = (typeof CONGESTION_CONTROLS)[number];

const MIB = 1024 * 1024;

export const DEFAULT_QUIC_OPTIONS: Readonly<QuicOptions> = Object.freeze({
  maxUdpPayload: 1350,
  loopbackUdpPayload: 16_000,
  congestionControl: 'cubic',
  initialMaxData: 4 * MIB,
  initialMaxStreamData: 1 * MIB,
  maxStreamWindow: 4 * MIB,
  maxConnectionWindow: 8 * MIB,
  maxConcurrentStreams: 256,
  maxIncomingConnections: 256,
  maxIncomingPerAddress: 16,
  idleTimeoutMs: 30_000,
  keepAliveMs: 10_000,
  handshakeTimeoutMs: 10_000,
  deadPeerMs: 4_000,
  socketBufferBytes: 4 * MIB,
  driver: 'worker',
});

/** Largest UDP payload quiche will build or accept. */
export const MAX_QUICHE_UDP_PAYLOAD = 16383;
/** QUIC requires every path to carry at least 1200-byte datagrams. */
export const MIN_UDP_PAYLOAD = 1200;

const int = (minimum: number, maximum: number, description: string) =>
  ({ type: 'integer', minimum, maximum, description }) as const;

/** JSON schema (draft-07, ajv) of a partial `QuicOptions`, for the host's config schema. */
export const quicOptionsSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  additionalProperties: false,
  properties: {
    maxUdpPayload: int(
      MIN_UDP_PAYLOAD,
      MAX_QUICHE_UDP_PAYLOAD,
      'Largest UDP payload in bytes (1350 default).',
    ),
    loopbackUdpPayload: int(
      MIN_UDP_PAYLOAD,
      MAX_QUICHE_UDP_PAYLOAD,
      'Largest UDP payload toward loopback peers in bytes (16000 default).',
    ),
    congestionControl: {
      type: 'string',
      enum: [...CONGESTION_CONTROLS],
      description: 'Congestion controller.',
    },
    initialMaxData: int(64 * 1024, 1024 * MIB, 'Initial connection flow-control window in bytes.'),
    initialMaxStreamData: int(16 * 1024, 1024 * MIB, 'Initial stream flow-control window in bytes.'),
    maxStreamWindow: int(16 * 1024, 1024 * MIB, 'Largest stream flow-control window in bytes.'),
    maxConnectionWindow: int(64 * 1024, 1024 * MIB, 'Largest connection flow-control window in bytes.'),
    maxConcurrentStreams: int(1, 65_535, 'Bidirectional streams a peer may have open at once.'),
    maxIncomingConnections: int(1, 65_535, 'Connections peers may have open to this agent at once.'),
    maxIncomingPerAddress: int(1, 65_535, 'Connections peers at one IP address may have open at once.'),
    idleTimeoutMs: int(100, 3_600_000, 'Idle timeout of a connection in milliseconds.'),
    keepAliveMs: int(0, 3_600_000, 'Keep-alive interval in milliseconds (0 disables).'),
    handshakeTimeoutMs: int(100, 600_000, 'Handshake timeout in milliseconds.'),
    deadPeerMs: int(
      0,
      600_000,
      'A direct connection whose peer answers nothing this long (milliseconds) ends; 0 disables.',
    ),
    socketBufferBytes: int(64 * 1024, 256 * MIB, 'UDP socket buffer size in bytes.'),
    driver: { type: 'string', enum: ['worker', 'inline'], description: 'Thread that runs the QUIC driver.' },
  },
} as const;

export class InvalidQuicOptionsError extends Error {
  override name = 'InvalidQuicOptionsError';
}

/**
 * Fills defaults and checks ranges, so a bad value fails here with its name instead of deep in
 * quiche. Keys that are not QUIC options are ignored: callers may pass a whole config section.
 */
export function resolveQuicOptions(
  partial: Partial<QuicOptions> & Record<string, unknown> = {},
): QuicOptions {
  const options: QuicOptions = { ...DEFAULT_QUIC_OPTIONS };
  for (const [key, value] of Object.entries(partial)) {
    if (value === undefined) continue;
    const spec = (
      quicOptionsSchema.properties as Record<
        string,
        { type: string; minimum?: number; maximum?: number; enum?: readonly string[] }
      >
    )[key];
    if (!spec) continue;
    if (spec.type === 'integer') {
      if (
        typeof value !== 'number' ||
        !Number.isInteger(value) ||
        value < (spec.minimum ?? 0) ||
        value > (spec.maximum ?? Number.MAX_SAFE_INTEGER)
      ) {
        throw new InvalidQuicOptionsError(
          `QUIC option '${key}' must be an integer in [${spec.minimum}, ${spec.maximum}], got ${String(value)}`,
        );
      }
    } else if (typeof value !== 'string' || !spec.enum?.includes(value)) {
      throw new InvalidQuicOptionsError(
        `QUIC option '${key}' must be one of ${spec.enum?.join(', ')}, got ${String(value)}`,
      );
    }
    (options as unknown as Record<string, unknown>)[key] = value;
  }
  return options;
}
