/** Stream error codes are -1 when quiche no longer knew them (the stream was already collected). */
const codeText = (code: number) => (code < 0 ? 'code unknown' : `code ${code}`);

/** The server's certificate is not the one the caller pinned; the connection has been closed. */
export class FingerprintMismatchError extends Error {
  override name = 'FingerprintMismatchError';
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`peer certificate fingerprint mismatch: expected ${expected}, got ${actual}`);
  }
}

/** A connection could not be established (handshake failure, timeout, endpoint closed …). */
export class QuicConnectError extends Error {
  override name = 'QuicConnectError';
}

/** The connection under a stream went away before the stream finished. */
export class QuicConnectionClosedError extends Error {
  override name = 'QuicConnectionClosedError';
  constructor(
    readonly code: number,
    readonly reason: string,
    readonly byPeer: boolean,
    detail?: string,
  ) {
    super(
      `QUIC connection closed ${byPeer ? 'by peer' : 'locally'} (code ${code}${reason ? `, ${reason}` : ''})${detail ? `: ${detail}` : ''}`,
    );
  }
}

/** The peer reset its sending side of the stream (RESET_STREAM): the data will not be complete. */
export class QuicStreamResetError extends Error {
  override name = 'QuicStreamResetError';
  constructor(
    readonly streamId: number,
    readonly code: number,
  ) {
    super(`QUIC stream ${streamId} was reset by the peer (${codeText(code)})`);
  }
}

/** The peer asked us to stop sending on the stream (STOP_SENDING). */
export class QuicStreamStoppedError extends Error {
  override name = 'QuicStreamStoppedError';
  constructor(
    readonly streamId: number,
    readonly code: number,
  ) {
    super(`QUIC stream ${streamId} was stopped by the peer (${codeText(code)})`);
  }
}

/** The endpoint is closed (or closing) and cannot take new work. */
export class QuicEndpointClosedError extends Error {
  override name = 'QuicEndpointClosedError';
  constructor() {
    super('QUIC endpoint is closed');
  }
}
