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

export function issuesFromAjv(errors: ErrorObject[] | null | undefined, prefix = ''): ConfigIssue[] {
  return (errors ?? []).map((e) => {
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
