import type { Frame, FrameChannel } from '@mesh-agent/host';
import { isWireError, printable } from '@mesh-agent/host';

/** A transfer that ended badly, with the code the receiver (or the sender itself) gave. */
export class TransferError<Code extends string = string> extends Error {
  override name = 'TransferError';
  constructor(
    readonly code: Code | 'CONNECTION_LOST',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Whether `error` ended only its own transfer: the receiver refused or failed that file, or it
 * changed while being sent. The stream is closed cleanly and the connection carries the next file;
 * a lost connection, a cancel or a local read error stops everything.
 */
export function endsOnlyThisFile(error: unknown): error is TransferError {
  return error instanceof TransferError && error.code !== 'CONNECTION_LOST' && error.code !== 'CANCELLED';
}

/** The receiver's REJECT or FAILED frame as an error naming its code and reason. */
export function refusal<Code extends string>(frame: Frame, what: string): TransferError<Code> {
  const code = frame.header.code as Code;
  return new TransferError<Code>(code, `${what} (${code}): ${printable(String(frame.header.reason))}`);
}

/** A broken stream as a CONNECTION_LOST transfer error; anything else unchanged. */
export function lostConnection(error: unknown): Error {
  if (isWireError(error))
    return new TransferError('CONNECTION_LOST', `connection to the receiver lost: ${error.message}`, {
      cause: error,
    });
  return error as Error;
}

/**
 * Why sending failed: the receiver's reason when its FAILED frame arrives within a second (it
 * explains the failure better than the stream reset does), else the lost connection.
 */
export async function sendFailure(
  verdict: Promise<Frame>,
  failedType: string,
  sendError: unknown,
): Promise<Error> {
  const frame = await Promise.race([
    verdict,
    new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 1_000)),
  ]).catch(() => undefined);
  return frame?.header.type === failedType
    ? refusal(frame, 'the receiver failed the transfer')
    : lostConnection(sendError);
}

/** The receiver's verdict after all the data was sent; our side is then ended. Throws its failure. */
export async function receiverVerdict(
  channel: FrameChannel,
  verdict: Promise<Frame>,
  failedType: string,
): Promise<Frame> {
  let result: Frame;
  try {
    result = await verdict;
  } catch (error) {
    throw lostConnection(error);
  }
  await channel.end().catch(() => {});
  if (result.header.type === failedType) throw refusal(result, 'the receiver failed the transfer');
  return result;
}

/** How long a sender waits, per step, for the receiver to take its abort: a user who cancelled waits less. */
const ABORT_GRACE_MS = { CHANGED: 5_000, CANCELLED: 2_000 } as const;

/**
 * Tells the receiver that the sender stops (an ABORT frame with `code` and `reason`), then lets it
 * answer and end its side before the stream closes, at most ABORT_GRACE_MS per step: a reset
 * could otherwise reach the receiver before the abort does.
 */
export async function abortTransfer(
  channel: FrameChannel,
  abort: { type: string; code: keyof typeof ABORT_GRACE_MS; reason: string },
): Promise<void> {
  await channel.send(abort).catch(() => {});
  await channel.linger(ABORT_GRACE_MS[abort.code]);
}
