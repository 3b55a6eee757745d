/** A wait that ran out of time. */
export class TimeoutError extends Error {
  override name = 'TimeoutError';
}

/** Settles as `promise`, or rejects with `error()` (by default a TimeoutError) after `ms`. */
export async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  error: () => Error = () => new TimeoutError(`nothing happened within ${ms / 1000} s`),
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(error()), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
