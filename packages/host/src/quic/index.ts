export { type QuicCloseEvent, QuicConnection, type QuicConnectionEvents } from './connection.js';
export {
  type QuicConnectOptions,
  QuicEndpoint,
  type QuicEndpointEvents,
  type QuicListenOptions,
} from './endpoint.js';
export {
  FingerprintMismatchError,
  QuicConnectError,
  QuicConnectionClosedError,
  QuicEndpointClosedError,
  QuicStreamResetError,
  QuicStreamStoppedError,
} from './errors.js';
export {
  CONGESTION_CONTROLS,
  type CongestionControl,
  DEFAULT_QUIC_OPTIONS,
  InvalidQuicOptionsError,
  type QuicOptions,
  quicOptionsSchema,
  resolveQuicOptions,
} from './options.js';
export type {
  ConnectionCloseInfo,
  ConnectionStats,
  EndpointStats,
  RemoteAddress,
  UdpIoStats,
} from './protocol.js';
export { QuicStream } from './stream.js';
