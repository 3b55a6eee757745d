import { redactSecrets } from '../log/redact.js';

/** `path = value` as JSON, secrets redacted (a token set a moment ago is not echoed to the screen). */
export function configLine(path: readonly string[], value: unknown): string {
  return `${path.join('.')} = ${JSON.stringify(redactedValue(path, value))}`;
}

/** `value` as it may be printed: redacted by the name it is stored under. */
export function redactedValue(path: readonly string[], value: unknown): unknown {
  return redactSecrets(value, path[path.length - 1]);
}
