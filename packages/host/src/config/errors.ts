import type { ErrorObject } from 'ajv';

export interface ConfigIssue {
  /** JSON pointer of the failing value, e.g. `/signaling/url`. */
  path: string;
  /** The schema rule that failed (`pattern`, `type`, `additionalProperties` …). */
  rule: string;
  message: string;
}

/** A config that cannot be used; the message names the file, each failing path and its rule. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(
    readonly file: string,
    readonly issues: ConfigIssue[],
  ) {
    super(
      `Invalid config (${file}):\n${issues.map((i) => `  ${i.path || '/'}: ${i.message} [${i.rule}]`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

/**
 * The failed rules of `schema` as issues. A schema node with an `errorMessage` speaks for every
 * rule that failed at its value (each branch of an `anyOf` …), so the user reads one sentence
 * instead of the rules.
 */
export function issuesFromAjv(
  errors: ErrorObject[] | null | undefined,
  schema: object,
  prefix = '',
): ConfigIssue[] {
  const said = (e: ErrorObject) => errorMessageAt(schema, e.schemaPath);
  const worded = new Map<string, ErrorObject>();
  for (const e of errors ?? []) if (said(e) !== undefined) worded.set(e.instancePath, e);
  const kept = (errors ?? []).filter((e) => (worded.get(e.instancePath) ?? e) === e);
  return kept.map((e) => {
    const message = said(e);
    if (message !== undefined) return { path: `${prefix}${e.instancePath}`, rule: e.keyword, message };
    const extra =
      e.keyword === 'additionalProperties'
        ? ` ('${(e.params as { additionalProperty: string }).additionalProperty}')`
        : e.keyword === 'enum'
          ? ` (${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')})`
          : '';
    return {
      path: `${prefix}${e.instancePath}`,
      rule: e.keyword,
      message: `${e.message ?? 'is invalid'}${extra}`,
    };
  });
}

/**
 * The `errorMessage` of the node whose rule failed: `schemaPath` is `#/…/<node>/<keyword>`, a JSON
 * pointer into `schema` (the prebuilt validator keeps no schema objects in its errors).
 */
function errorMessageAt(schema: object, schemaPath: string): string | undefined {
  let node: unknown = schema;
  for (const segment of schemaPath.split('/').slice(1, -1)) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[
      decodeURIComponent(segment).replace(/~1/g, '/').replace(/~0/g, '~')
    ];
  }
  const message = (node as { errorMessage?: unknown } | undefined)?.errorMessage;
  return typeof message === 'string' ? message : undefined;
}
