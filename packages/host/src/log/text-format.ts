import { printable } from '../util/printable.js';

/** pino's numeric levels by name, as a person reads them. */
const LEVEL_NAMES: Readonly<Record<number, string>> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

/** Record fields every line has, or that the line's head already shows. */
const SHOWN_ELSEWHERE = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'part', 'plugin']);

/**
 * One pino record as a line for a person: `warn  signaling: reconnecting  url=ws://…`. The level,
 * then the part of the agent that speaks, the message, and the record's other fields as key=value.
 */
export function formatLogRecord(record: Record<string, unknown>): string {
  const level = LEVEL_NAMES[record.level as number] ?? String(record.level);
  const source = record.part ?? record.plugin;
  // Messages may quote a peer: on a terminal its control characters must do nothing.
  const head = printable(
    `${level.padEnd(5)} ${typeof source === 'string' ? `${source}: ` : ''}${String(record.msg ?? '')}`,
  );
  const fields = Object.entries(record)
    .filter(([key, value]) => !SHOWN_ELSEWHERE.has(key) && value !== undefined)
    .map(([key, value]) => `${key}=${fieldText(value)}`);
  return `${[head, ...fields].join('  ')}\n`;
}

/** A JSON log line as a person's line; a line that is not a pino record passes unchanged. */
export function formatLogLine(line: string): string {
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    return line;
  }
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return line;
  return formatLogRecord(record as Record<string, unknown>);
}

function fieldText(value: unknown): string {
  // pino serializes an Error as { type, message, stack }: its message is what a person needs.
  if (isSerializedError(value)) return quoted(value.message);
  if (typeof value === 'string') return quoted(value);
  return JSON.stringify(value) ?? String(value);
}

function isSerializedError(value: unknown): value is { message: string } {
  return (
    value !== null &&
    typeof value === 'object' &&
    'stack' in value &&
    typeof (value as { message?: unknown }).message === 'string'
  );
}

/** Bare when it reads unambiguously, JSON-quoted when it has spaces, quotes or control characters. */
function quoted(text: string): string {
  return /^[^\s"=\\\p{Cc}]+$/u.test(text) ? text : JSON.stringify(text);
}
