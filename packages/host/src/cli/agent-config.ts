import type { Config } from '@oclif/core';
import { agentHome, readConfig } from '../config/load.js';
import type { HostConfig } from '../config/schema.js';
import { type PluginSchema, validateConfig } from '../config/validate.js';
import { findPluginPackages, type PluginPackage } from '../plugins/discover.js';
import { importPlugin, importPluginSchema } from '../plugins/load.js';
import type { AnyMeshPlugin } from '../plugins/types.js';

export interface AgentConfig {
  config: HostConfig;
  /** The config file used, or `(defaults)`. */
  filepath: string;
  home: string;
  /** Enabled plugins, imported, in the order oclif loaded their packages (only with `plugins: 'all'`). */
  plugins: AnyMeshPlugin[];
  /** Names of the enabled plugins whose config was checked. */
  pluginNames: string[];
  /** Code configs the search ignored, and enabled plugins that could not be loaded (the agent runs without them). */
  warnings: string[];
}

/**
 * How much of the plugins a command needs: `all` imports them (to run a host), `schemas` only
 * their config schemas (from the light module a package names, see PluginPackageField.config),
 * `none` checks the host's part alone and imports no plugin.
 */
export type PluginLoading = 'all' | 'schemas' | 'none';

/**
 * The effective config: defaults < config file < environment < flags, validated against the
 * host's schema and, unless `plugins: 'none'`, each enabled plugin's schema.
 */
export async function loadAgentConfig(
  oclif: Pick<Config, 'plugins'>,
  opts: {
    file?: string;
    overrides?: Record<string, unknown>;
    /** Under the file: the command's own defaults (see validateConfig). */
    defaults?: Record<string, unknown>;
    plugins?: PluginLoading;
  },
): Promise<AgentConfig> {
  const loading = opts.plugins ?? 'all';
  const raw = await readConfig({ file: opts.file });
  const packages =
    loading === 'none'
      ? []
      : findPluginPackages(oclif.plugins.values()).filter((pkg) => {
          const section = (raw.tree.plugins as Record<string, { enabled?: unknown }> | undefined)?.[pkg.name];
          return section?.enabled !== false;
        });
  const warnings = [...raw.warnings];
  // One broken plugin must not take the whole CLI down with it.
  const orWarn = <T>(pkg: PluginPackage, load: Promise<T>) =>
    load.catch((error: Error) => {
      warnings.push(`${error.message} (disable it with plugins.${pkg.name}.enabled: false)`);
      return undefined;
    });
  const plugins =
    loading === 'all'
      ? defined(await Promise.all(packages.map((pkg) => orWarn(pkg, importPlugin(pkg)))))
      : [];
  const schemas: PluginSchema[] =
    loading === 'all'
      ? plugins.map((p) => ({ name: p.name, schema: p.configSchema }))
      : defined(await Promise.all(packages.map((pkg) => orWarn(pkg, importPluginSchema(pkg)))));
  const config = validateConfig(raw, opts.overrides, schemas, opts.defaults);
  return {
    config,
    filepath: raw.filepath,
    home: agentHome(config),
    plugins,
    pluginNames: schemas.map((s) => s.name),
    warnings,
  };
}

function defined<T>(items: Array<T | undefined>): T[] {
  return items.filter((item): item is T => item !== undefined);
}
