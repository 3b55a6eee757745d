import { destination, type Logger, pino } from 'pino';

export type { Logger };
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Field names that may carry a secret anywhere in a log record. pino replaces their values,
 * so a careless `log.info({ session })` still never writes a token or a key.
 */
const SECRET_FIELDS = [
  'token',
  'accessToken',
  'appToken',
  'password',
  'keyPem',
  'privateKey',
  'secret',
  'authorization',
];
const REDACT_PATHS = SECRET_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]);

/** Structured JSON logs on stderr, so stdout stays for command output and `--json`. */
export function createLogger(level: LogLevel = 'info', name = 'mesh-agent'): Logger {
  return pino(
    { name, level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { pid: process.pid } },
    destination({ fd: 2, sync: true }),
  );
}
