import { type DestinationStream, destination, type Logger, pino } from 'pino';
import type { LogFormat, LogLevel } from './levels.js';
import { redactSecrets, redactText } from './redact.js';
import { formatLogLine } from './text-format.js';

export { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from './levels.js';
export type { Logger };

/**
 * Logs on stderr, so stdout stays for command output and `--json`: JSON records, or lines for a
 * person. Without a `format`, text when stderr is a terminal (someone reads it) and JSON otherwise
 * (a file or a collector parses it).
 */
export function createLogger(level: LogLevel = 'info', name = 'mesh-agent', format?: LogFormat): Logger {
  const stderr = destination({ fd: 2, sync: true });
  const text = (format ?? (process.stderr.isTTY ? 'text' : 'json')) === 'text';
  const sink: DestinationStream = text ? { write: (line) => stderr.write(formatLogLine(line)) } : stderr;
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
    sink,
  );
}
