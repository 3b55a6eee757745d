import { Errors } from '@oclif/core';
import { TransferError } from './outcome.js';

/** The signals a sending command stops on, and its exit code for each (128 + the number, as shells report). */
const EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;
type StopSignal = keyof typeof EXIT_CODES;

/**
 * Runs `send` with a signal that Ctrl-C or SIGTERM aborts: the sender then tells the receiver (an
 * ABORT frame with code CANCELLED) and closes cleanly, and the command ends with `cancelledMessage`
 * and exit code 130 (143 for SIGTERM). A second signal exits at once.
 */
export async function cancelOnSignal<T>(
  cancelledMessage: string,
  send: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  let received: StopSignal | undefined;
  const onSignal = (name: StopSignal): void => {
    if (received) process.exit(EXIT_CODES[name]);
    received = name;
    controller.abort(new TransferError('CANCELLED', `cancelled by ${name}`));
  };
  const signals = Object.keys(EXIT_CODES) as StopSignal[];
  for (const name of signals) process.on(name, onSignal);
  try {
    return await send(controller.signal);
  } catch (error) {
    if (!received || error !== controller.signal.reason) throw error;
    const exit = EXIT_CODES[received];
    // oclif reads `oclif.exit` in text mode and `exitCode` with --json.
    throw Object.assign(new Errors.CLIError(cancelledMessage, { exit, code: 'CANCELLED' }), {
      exitCode: exit,
    });
  } finally {
    for (const name of signals) process.off(name, onSignal);
  }
}

/** `work`, unless `signal` aborts first: then its reason (a CANCELLED TransferError) is thrown. */
export function unlessCancelled<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
