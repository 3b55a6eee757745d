import { printable } from '../util/printable.js';

/** What went wrong on the wire; callers branch on this, the message is for humans. */
export type WireErrorCode =
  /** A frame's declared length is above the configured maximum. */
  | 'FRAME_TOO_LARGE'
  /** The stream ended in the middle of a frame. */
  | 'FRAME_TRUNCATED'
  /** The length fields contradict each other (length < 2, header longer than the frame). */
  | 'BAD_FRAME'
  /** The header is not a UTF-8 JSON object with a non-empty string `type`. */
  | 'BAD_HEADER'
  /** No schema is registered for the header's `type`. */
  | 'UNKNOWN_TYPE'
  /** The header violates its schema or the body violates its body rule. */
  | 'INVALID_MESSAGE'
  /** A frame arrived whose type the protocol step did not expect. */
  | 'UNEXPECTED_TYPE'
  /** The peer ended the stream cleanly while a frame was still expected. */
  | 'STREAM_ENDED'
  /** The channel was closed or destroyed locally. */
  | 'CHANNEL_CLOSED'
  /** The underlying stream failed or closed without ending cleanly. */
  | 'CONNECTION_LOST';

/**
 * The one error type the wire layer throws for bad input or a broken stream. Its message may
 * quote the peer's bytes (a JSON syntax error, a property name), so it is made printable here.
 */
export class WireError extends Error {
  override readonly name = 'WireError';
  readonly code: WireErrorCode;

  constructor(code: WireErrorCode, message: string, options?: { cause?: unknown }) {
    super(printable(message), options);
    this.code = code;
  }
}

export function isWireError(value: unknown): value is WireError {
  return value instanceof WireError;
}
