import type { Config } from '@oclif/core';
import { agentHome, readConfig, validateConfig } from '../config/load.js';
import type { HostConfig } from '../config/schema.js';
import { findPluginPackages } from '../plugins/discover.js';
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
  const raw = await readConfig({ file: opts.file });
  const packages = findPluginPackages(oclif.plugins.values()).filter((pkg) => {
    const section = (raw.tree.plugins as Record<string, { enabled?: unknown }> | undefined)?.[pkg.name];
    return section?.enabled !== false;
  });
  const warnings = [...raw.warnings];
  const loaded = await Promise.all(
    packages.map((pkg) =>
      importPlugin(pkg).catch((error: Error) => {
        // One broken plugin must not take the whole CLI down with it.
        warnings.push(`${error.message} (disable it with plugins.${pkg.name}.enabled: false)`);
        return undefined;
      }),
    ),
  );
  const plugins = loaded.filter((p): p is AnyMeshPlugin => p !== undefined);
  const config = validateConfig(
    raw,
    opts.overrides,
    plugins.map((p) => ({ name: p.name, schema: p.configSchema })),
  );
  return { config, filepath: raw.filepath, home: agentHome(config), plugins, warnings };
}
