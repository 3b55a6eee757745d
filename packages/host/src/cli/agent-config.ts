import type { Config } from '@oclif/core';
import {
  agentHome,
  isPluginEnabled,
  type PluginSchema,
  type RawConfig,
  readConfig,
  validateConfig,
} from '../config/load.js';
import type { HostConfig } from '../config/schema.js';
import { findPluginPackages, type PluginPackage } from '../plugins/discover.js';
import { importPlugin } from '../plugins/load.js';
import type { AnyMeshPlugin } from '../plugins/types.js';

export interface AgentConfig {
  config: HostConfig;
  /** The config file used, or `(defaults)`. */
  filepath: string;
  home: string;
  /** Enabled plugins, imported, in the order oclif loaded their packages. */
  plugins: AnyMeshPlugin[];
  /** Code configs the search ignored, and enabled plugins that could not be loaded (the agent runs without them). */
  warnings: string[];
}

/**
 * The effective config: defaults < config file < environment < flags, validated against the
 * host's schema and each enabled plugin's schema.
 */
export async function loadAgentConfig(
  oclif: Pick<Config, 'plugins'>,
  opts: { file?: string; overrides?: Record<string, unknown> },
): Promise<AgentConfig> {
  return checkAgentConfig(oclif, await readConfig({ file: opts.file }), opts.overrides);
}

/** Validates `raw` (a config file's tree) as loadAgentConfig does, with the plugins it enables. */
export async function checkAgentConfig(
  oclif: Pick<Config, 'plugins'>,
  raw: RawConfig,
  overrides: Record<string, unknown> = {},
): Promise<AgentConfig> {
  const packages = findPluginPackages(oclif.plugins.values()).filter((pkg) =>
    isPluginEnabled(raw.tree, pkg.name),
  );
  const warnings = [...raw.warnings];
  const plugins = await importAll(packages, warnings);
  const config = validateConfig(
    raw,
    overrides,
    plugins.map((p) => ({ name: p.name, schema: p.configSchema })),
  );
  return { config, filepath: raw.filepath, home: agentHome(config), plugins, warnings };
}

/** The config schema of every installed plugin, enabled or not (`config set` may enable one). */
export async function installedPluginSchemas(
  oclif: Pick<Config, 'plugins'>,
  warnings: string[],
): Promise<PluginSchema[]> {
  const plugins = await importAll(findPluginPackages(oclif.plugins.values()), warnings);
  return plugins.map((p) => ({ name: p.name, schema: p.configSchema }));
}

async function importAll(packages: PluginPackage[], warnings: string[]): Promise<AnyMeshPlugin[]> {
  const loaded = await Promise.all(
    packages.map((pkg) =>
      importPlugin(pkg).catch((error: Error) => {
        // One broken plugin must not take the whole CLI down with it.
        warnings.push(`${error.message} (disable it with plugins.${pkg.name}.enabled: false)`);
        return undefined;
      }),
    ),
  );
  return loaded.filter((p): p is AnyMeshPlugin => p !== undefined);
}
