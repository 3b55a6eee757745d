import { type Config, type Interfaces, Config as OclifConfig } from '@oclif/core';
import { isPluginEnabled } from '../config/load.js';
import { findPluginPackages } from '../plugins/discover.js';
import { readStartupConfig } from './startup-config.js';

/** `--config <file>` / `--config=<file>` / `-c <file>` from raw argv, before oclif parses anything. */
export function configFileFromArgv(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') return undefined;
    if (arg === '--config' || arg === '-c') return argv[i + 1];
    if (arg.startsWith('--config=')) return arg.slice('--config='.length);
  }
  return undefined;
}

/**
 * Drops the oclif plugins whose mesh-agent plugin config disables, so their commands vanish
 * along with their stream types and hooks. A config that cannot be read disables nothing: the
 * command itself then reports the config error.
 */
export async function withoutDisabledPlugins(config: Config, argv: readonly string[]): Promise<Config> {
  let tree: Record<string, unknown>;
  try {
    tree = (await readStartupConfig(configFileFromArgv(argv))).tree;
  } catch {
    return config;
  }
  const disabled = new Set(
    findPluginPackages(config.plugins.values())
      .filter((pkg) => !isPluginEnabled(tree, pkg.name))
      .map((pkg) => pkg.packageName),
  );
  if (disabled.size === 0) return config;
  const plugins = new Map([...config.plugins].filter(([name]) => !disabled.has(name)));
  installedBeforeFilter = config;
  return OclifConfig.load({ root: config.root, plugins });
}

/** The CLI with every installed plugin, before the disabled ones were left out (one per process). */
let installedBeforeFilter: Interfaces.Config | undefined;

/**
 * The CLI as loaded before disabled plugins were left out: `config set` must know a disabled
 * plugin's schema to turn it back on, and an unknown command may be a disabled plugin's.
 */
export function withAllInstalled<C extends Pick<Interfaces.Config, 'plugins'>>(
  oclif: C,
): C | Interfaces.Config {
  return installedBeforeFilter ?? oclif;
}

export { placeUserPlugins, provideHostToUserPlugins, sayPluginLoadFailures } from './user-plugins.js';
