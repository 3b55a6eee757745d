const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_$-]+(?:\.[A-Za-z0-9_$-]+)*)\s*\}\}/g;

/**
 * Fills `{{field}}` and `{{a.b}}` placeholders from `context`. A missing field (or null) becomes
 * the empty string, an object its JSON; only own properties are read, so `{{constructor}}` is empty.
 */
export function renderTemplate(template: string, context: Readonly<Record<string, unknown>>): string {
  return template.replace(PLACEHOLDER, (_match, path: string) => format(lookup(context, path.split('.'))));
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
