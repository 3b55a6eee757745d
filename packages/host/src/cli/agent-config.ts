import type { Config } from '@oclif/core';
import { agentHome, isPluginEnabled, type RawConfig } from '../config/load.js';
import type { HostConfig } from '../config/schema.js';
import { type PluginSchema, validateConfig } from '../config/validate.js';
import { findPluginPackages, type PluginPackage } from '../plugins/discover.js';
import { importPlugin, importPluginSchema } from '../plugins/load.js';
import type { AnyMeshPlugin } from '../plugins/types.js';
import { withAllInstalled } from './plugin-filter.js';
import { readCommandConfig } from './startup-config.js';

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
  return checkAgentConfig(oclif, await readCommandConfig(opts.file), opts);
}

/** Validates `raw` (the tree of a config file, or of one about to be written) as loadAgentConfig does. */
export async function checkAgentConfig(
  oclif: Pick<Config, 'plugins'>,
  raw: RawConfig,
  opts: {
    overrides?: Record<string, unknown>;
    defaults?: Record<string, unknown>;
    plugins?: PluginLoading;
  } = {},
): Promise<AgentConfig> {
  const loading = opts.plugins ?? 'all';
  const packages =
    loading === 'none'
      ? []
      : findPluginPackages(oclif.plugins.values()).filter((pkg) => isPluginEnabled(raw.tree, pkg.name));
  const warnings = [...raw.warnings];
  const loaded =
    loading === 'all'
      ? defined(
          await Promise.all(
            packages.map((pkg) =>
              orWarn(
                pkg,
                importPlugin(pkg).then((plugin) => ({ pkg, plugin })),
                warnings,
              ),
            ),
          ),
        )
      : [];
  const plugins = loaded.map((l) => l.plugin);
  const schemas: PluginSchema[] =
    loading === 'all'
      ? await Promise.all(loaded.map(({ pkg, plugin }) => importPluginSchema(pkg, plugin)))
      : await schemasOf(packages, warnings);
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

/** The config schema of every installed plugin, enabled or not (`config set` may enable one). */
export function installedPluginSchemas(
  oclif: Pick<Config, 'plugins'>,
  warnings: string[],
): Promise<PluginSchema[]> {
  return schemasOf(findPluginPackages(withAllInstalled(oclif).plugins.values()), warnings);
}

async function schemasOf(packages: PluginPackage[], warnings: string[]): Promise<PluginSchema[]> {
  return defined(await Promise.all(packages.map((pkg) => orWarn(pkg, importPluginSchema(pkg), warnings))));
}

/** One broken plugin must not take the whole CLI down with it. */
function orWarn<T>(pkg: PluginPackage, load: Promise<T>, warnings: string[]): Promise<T | undefined> {
  return load.catch((error: Error) => {
    warnings.push(`${error.message} (disable it with plugins.${pkg.name}.enabled: false)`);
    return undefined;
  });
}

function defined<T>(items: Array<T | undefined>): T[] {
  return items.filter((item): item is T => item !== undefined);
}
