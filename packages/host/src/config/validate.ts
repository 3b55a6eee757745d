import { createRequire } from 'node:module';
import type { Ajv, Options, ValidateFunction } from 'ajv';
import { mergeConfig } from './env.js';
import { ConfigError, issuesFromAjv } from './errors.js';
import type { RawConfig } from './load.js';
import { type HostConfig, hostConfigSchema } from './schema.js';

/**
 * `validateSchema: false`: checking each plugin's schema against the JSON Schema meta-schema
 * costs every command ~25 ms; `mesh-agent config validate` does it instead (schemaProblems).
 */
export const AJV_OPTIONS: Options = {
  allErrors: true,
  useDefaults: true,
  strict: false,
  validateSchema: false,
};

/**
 * The host's schema compiled to code at build time (`scripts/generate-config-validator.mjs`), so
 * commands that check only the host's part (identity, status) load no ajv and compile nothing:
 * about 45 ms of their start-up. Absent when running from sources; then ajv compiles it.
 */
const PREBUILT = './host-config-validator.js';
const prebuilt = (await import(PREBUILT).then(
  (module) => module.default,
  () => undefined,
)) as ValidateFunction<HostConfig> | undefined;

// Loaded on first use (ajv is CommonJS, so synchronously): `--help` never pays for it.
let ajv: Ajv | undefined;
function compiler(): Ajv {
  if (!ajv) {
    const { Ajv: AjvClass } = createRequire(import.meta.url)('ajv') as typeof import('ajv');
    ajv = new AjvClass(AJV_OPTIONS);
  }
  return ajv;
}

function hostValidator(): ValidateFunction<HostConfig> {
  return (
    prebuilt ??
    compiler().getSchema<HostConfig>(hostConfigSchema.$id) ??
    compiler().compile<HostConfig>(hostConfigSchema)
  );
}

/** A plugin's config schema, checked against `plugins.<name>` once the plugin is enabled. */
export interface PluginSchema {
  name: string;
  schema?: object;
  /** `schema` compiled at build (see PluginPackageField.configValidator); else ajv compiles it here. */
  validate?: ValidateFunction;
}

/**
 * Validates the merged tree against the host's schema and each enabled plugin's schema, filling
 * defaults. `defaults` (a partial tree) sits under the file: a command's own defaults, such as its
 * log level. Throws a ConfigError listing every failing path.
 */
export function validateConfig(
  raw: Pick<RawConfig, 'filepath' | 'tree'>,
  overrides: Record<string, unknown> = {},
  plugins: PluginSchema[] = [],
  defaults: Record<string, unknown> = {},
): HostConfig {
  const tree = structuredClone(
    mergeConfig(
      { agent: {}, signaling: {}, quic: {}, nat: {}, p2p: {}, tokens: {}, log: {}, plugins: {} },
      defaults,
      raw.tree,
      overrides,
    ),
  );
  const validateHost = hostValidator();
  const issues = validateHost(tree) ? [] : issuesFromAjv(validateHost.errors, hostConfigSchema);
  // A true boundary: only returned when validateHost accepted the tree (issues throw below); read
  // before that only to collect the plugins' issues too.
  const config = tree as unknown as HostConfig;
  for (const plugin of plugins) {
    if (!plugin.schema) continue;
    const section = config.plugins[plugin.name] ?? {};
    if (section.enabled === false) continue;
    const { enabled, ...rest } = section;
    const check =
      plugin.validate ??
      compiler().getSchema(schemaId(plugin.name)) ??
      compiler().compile({ ...plugin.schema, $id: schemaId(plugin.name) });
    if (!check(rest)) issues.push(...issuesFromAjv(check.errors, plugin.schema, `/plugins/${plugin.name}`));
    config.plugins[plugin.name] = { enabled: enabled ?? true, ...rest };
  }
  if (issues.length > 0) throw new ConfigError(raw.filepath, issues);
  return config;
}

function schemaId(plugin: string): string {
  return `mesh-agent/plugin-config/${plugin}`;
}

/** What is wrong with a plugin's config schema as JSON Schema, or nothing. */
export function schemaProblems(schema: object): string | undefined {
  const ajv = compiler();
  return ajv.validateSchema(schema) ? undefined : ajv.errorsText(ajv.errors, { dataVar: 'schema' });
}
