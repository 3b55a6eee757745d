import { closest } from 'fastest-levenshtein';
import { hostConfigSchema } from './schema.js';
import type { PluginSchema } from './validate.js';

/** A dotted config path (`signaling.url`, `plugins.notifications-gotify.url`) that names nothing. */
export class ConfigPathError extends Error {
  override name = 'ConfigPathError';
}

/** The JSON-schema keywords this module reads. */
interface Schema {
  type?: string | string[];
  enum?: readonly unknown[];
  anyOf?: readonly Schema[];
  properties?: Readonly<Record<string, Schema>>;
  additionalProperties?: boolean | Schema;
}

/** `signaling.url` → `['signaling', 'url']`; empty segments are refused. */
export function parseKeyPath(text: string): string[] {
  const keys = text.split('.');
  if (keys.some((key) => key === ''))
    throw new ConfigPathError(`"${text}" is not a config path: use dotted keys like signaling.url`);
  return keys;
}

/**
 * The schema of the value at `path`: the host's schema, and under `plugins.<name>` the schema of
 * that installed plugin. Throws a ConfigPathError naming the closest known key for a typo.
 */
export function schemaAt(path: readonly string[], plugins: readonly PluginSchema[]): Schema {
  if (path[0] === 'plugins' && path.length >= 2) {
    const name = path[1] as string;
    const plugin = plugins.find((p) => p.name === name);
    if (!plugin)
      throw unknownKey(
        path,
        1,
        plugins.map((p) => p.name),
      );
    if (path.length === 2) return { type: 'object' };
    if (path[2] === 'enabled' && path.length === 3) return { type: 'boolean' };
    const section: Schema = plugin.schema ?? { type: 'object', additionalProperties: false };
    return descend(section, path, 2, ['enabled']);
  }
  return descend(hostConfigSchema as Schema, path, 0);
}

function descend(root: Schema, path: readonly string[], from: number, extraKeys: string[] = []): Schema {
  let node = root;
  for (let i = from; i < path.length; i++) {
    const key = path[i] as string;
    const known = node.properties?.[key];
    if (known) node = known;
    else if (typeof node.additionalProperties === 'object') node = node.additionalProperties;
    else if (node.properties)
      throw unknownKey(path, i, [...Object.keys(node.properties), ...(i === from ? extraKeys : [])]);
    else throw new ConfigPathError(`${path.slice(0, i).join('.')} is a value, not a section`);
  }
  return node;
}

function unknownKey(path: readonly string[], at: number, known: string[]): ConfigPathError {
  const parent = path.slice(0, at).join('.');
  const where = parent ? `under ${parent}` : 'at the top level';
  const guess = known.length > 0 ? closest(path[at] as string, known) : undefined;
  const prefix = parent ? `${parent}.` : '';
  return new ConfigPathError(
    `unknown config path ${path.join('.')}: no "${path[at]}" ${where}` +
      (guess ? `. Did you mean ${prefix}${guess}?` : '') +
      (known.length > 0 ? ` (known: ${known.join(', ')})` : ''),
  );
}

/** The JSON types a schema allows (`anyOf` and `enum` included). */
function typesOf(schema: Schema): Set<string> {
  const types = new Set<string>();
  if (schema.type) for (const t of [schema.type].flat()) types.add(t);
  for (const value of schema.enum ?? []) types.add(Array.isArray(value) ? 'array' : typeof value);
  for (const branch of schema.anyOf ?? []) for (const t of typesOf(branch)) types.add(t);
  // No type at all: anything goes, read it as JSON when it parses.
  if (types.size === 0) for (const t of ['object', 'array', 'number', 'boolean', 'string']) types.add(t);
  return types;
}

/**
 * Reads the text of `config set` as the type the schema asks for: a number, true/false, a JSON
 * array or object, else the text itself. Ranges and patterns are left to the validator.
 */
export function parseValue(schema: Schema, text: string, path: string): unknown {
  const types = typesOf(schema);
  const trimmed = text.trim();
  if ((types.has('array') || types.has('object')) && /^[[{]/.test(trimmed)) {
    try {
      return JSON.parse(trimmed);
    } catch (error) {
      throw new ConfigPathError(
        `${path}: the value looks like JSON but does not parse: ${(error as Error).message}`,
      );
    }
  }
  if ((types.has('integer') || types.has('number')) && /^-?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(trimmed))
    return Number(trimmed);
  if (types.has('boolean') && (trimmed === 'true' || trimmed === 'false')) return trimmed === 'true';
  if (types.has('string')) return text;
  const wanted = [...types].map((t) =>
    t === 'array' || t === 'object' ? `a JSON ${t}` : t === 'integer' ? 'an integer' : `a ${t}`,
  );
  throw new ConfigPathError(`${path} takes ${wanted.join(' or ')}, got "${text}"`);
}
