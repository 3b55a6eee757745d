import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { configFromEnv, mergeConfig } from './env.js';
import { ConfigError } from './errors.js';
import {
  type FoundConfig,
  loadConfigFile,
  MODULE_NAME,
  searchConfig,
  UnparsableConfigError,
  userConfigDir,
} from './find.js';
import type { HostConfig } from './schema.js';
import { userPath } from './user-path.js';

export { MODULE_NAME };

export interface RawConfig {
  /** Where the file layer came from; `(defaults)` when no file was found. */
  filepath: string;
  tree: Record<string, unknown>;
  /** What the user should hear about the search: code configs it did not run. */
  warnings: string[];
}

/**
 * Reads the config file (the given one, or the first data config found from `cwd` up to the
 * home directory, then the user's config dir) and layers the environment over it. Flags are
 * layered by the caller.
 */
export async function readConfig(
  opts: { file?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RawConfig> {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const file = opts.file ?? env.MESH_AGENT_CONFIG;
  let found: FoundConfig | undefined;
  let ignored: string[] = [];
  try {
    if (file) found = await loadConfigFile(resolve(cwd, file));
    else ({ found, ignored } = await searchConfig(cwd, env));
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    const where = error instanceof UnparsableConfigError ? error.filepath : (file ?? cwd);
    const message = err.code === 'ENOENT' ? 'file not found' : `cannot be parsed: ${err.message}`;
    throw new ConfigError(where, [{ path: '', rule: 'parse', message }]);
  }
  const fileTree = found?.config ?? {};
  if (typeof fileTree !== 'object' || Array.isArray(fileTree)) {
    throw new ConfigError(found?.filepath ?? '(defaults)', [
      { path: '', rule: 'type', message: 'must be object' },
    ]);
  }
  return {
    filepath: found?.filepath ?? '(defaults)',
    tree: mergeConfig(fileTree as Record<string, unknown>, configFromEnv(env)),
    warnings: ignored.map(
      (path) =>
        `ignored ${path}: a JavaScript config runs code, so it is loaded only from --config or ${userConfigDir(env)}/, never found by searching`,
    ),
  };
}

/** Whether config leaves the plugin on (plugins are on unless `enabled: false`). */
export function isPluginEnabled(tree: Record<string, unknown>, name: string): boolean {
  const plugins = tree.plugins as Record<string, { enabled?: unknown }> | undefined;
  return plugins?.[name]?.enabled !== false;
}

/** The agent's home: config, then MESH_AGENT_HOME (already layered), then the XDG data dir. */
export function agentHome(config: HostConfig, env: NodeJS.ProcessEnv = process.env): string {
  if (config.agent.home) return userPath(config.agent.home);
  return join(dataHome(env), MODULE_NAME);
}

/** `$XDG_DATA_HOME`, or its default `~/.local/share`: where the agent home and the plugins folder sit. */
export function dataHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.XDG_DATA_HOME || join(env.HOME || homedir(), '.local', 'share');
}
