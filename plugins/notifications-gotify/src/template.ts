import { formatBytes } from '@mesh-agent/host';
import { failureReason } from './failure-reasons.js';

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_$-]+(?:\.[A-Za-z0-9_$-]+)*)\s*(?:\|\s*([a-z]+)\s*)?\}\}/g;

/** What `{{field | filter}}` does to the field's value before it is printed. */
const FILTERS: Readonly<Record<string, (value: unknown) => unknown>> = {
  /** A byte count in human units: `1234567` → `1.2 MiB`. */
  bytes: (value) => (typeof value === 'number' && Number.isFinite(value) ? formatBytes(value) : value),
  /** A failure code in plain words: `NO_SPACE` → `there is not enough free disk space`. */
  reason: (value) => (value === undefined || value === null ? value : failureReason(value)),
};

/**
 * Fills `{{field}}` and `{{a.b}}` placeholders from `context`, and `{{field | filter}}` through one
 * of FILTERS (an unknown filter leaves the placeholder as written, so the mistake shows). A missing
 * field (or null) becomes the empty string, an object its JSON; only own properties are read, so
 * `{{constructor}}` is empty.
 */
export function renderTemplate(template: string, context: Readonly<Record<string, unknown>>): string {
  return template.replace(PLACEHOLDER, (match, path: string, filter: string | undefined) => {
    const value = lookup(context, path.split('.'));
    if (filter === undefined) return format(value);
    const apply = Object.hasOwn(FILTERS, filter) ? FILTERS[filter] : undefined;
    return apply ? format(apply(value)) : match;
  });
}

function lookup(root: unknown, keys: string[]): unknown {
  let node = root;
  for (const key of keys) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function format(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (value instanceof Date) return value.toISOString();
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    // A cyclic payload must not break the notification.
    return '';
  }
}
