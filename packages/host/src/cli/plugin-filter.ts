import { type Config, Config as OclifConfig } from '@oclif/core';
import { isPluginEnabled, readConfig } from '../config/load.js';
import { findPluginPackages } from '../plugins/discover.js';

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
    tree = (await readConfig({ file: configFileFromArgv(argv) })).tree;
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
  return OclifConfig.load({ root: config.root, plugins });
}
