import { destination, type Logger, pino } from 'pino';
import { redactSecrets, redactText } from './redact.js';

export type { Logger };

import type { LogLevel } from './levels.js';

export { LOG_LEVELS, type LogLevel } from './levels.js';

/** Structured JSON logs on stderr, so stdout stays for command output and `--json`. */
export function createLogger(level: LogLevel = 'info', name = 'mesh-agent'): Logger {
  return pino(
    {
      name,
      level,
      base: { pid: process.pid },
      // Every record's fields and its message pass the one redaction helper, so a careless
      // `log.info({ session })` or a URL with a token in it never reaches a log.
      formatters: { log: (record) => redactSecrets(record) as Record<string, unknown> },
      hooks: {
        logMethod(args, method) {
          method.apply(
            this,
            args.map((arg) => (typeof arg === 'string' ? redactText(arg) : arg)) as Parameters<typeof method>,
          );
        },
      },
    },
    destination({ fd: 2, sync: true }),
  );
}
