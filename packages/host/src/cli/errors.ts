/** Bad input from the user (flags, arguments, files): exit code 2 with the message, no stack. */
export class UsageError extends Error {
  override name = 'UsageError';
}
