import type { HostConfig } from '../config/schema.js';
import { PluginDependencyError } from './dependency-error.js';
import type { AnyMeshPlugin, AppliedPlugin, DependencyApis, PluginHost } from './types.js';

/**
 * The plugins in an order where each comes after the plugins it depends on (otherwise as given).
 * Throws PluginDependencyError when a dependency is disabled, not installed, or part of a cycle.
 */
export function orderByDependencies(
  plugins: readonly AnyMeshPlugin[],
  config: Pick<HostConfig, 'plugins'>,
): AnyMeshPlugin[] {
  const byName = new Map(plugins.map((plugin) => [plugin.name, plugin]));
  const ordered: AnyMeshPlugin[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (plugin: AnyMeshPlugin, path: string[]): void => {
    if (state.get(plugin.name) === 'done') return;
    if (state.get(plugin.name) === 'visiting')
      throw new PluginDependencyError(
        plugin.name,
        `plugins depend on each other in a cycle: ${path.join(' → ')}`,
      );
    state.set(plugin.name, 'visiting');
    for (const name of plugin.dependsOn ?? []) {
      const dependency = byName.get(name);
      if (!dependency) throw missingDependency(plugin.name, name, config);
      visit(dependency, [...path, name]);
    }
    state.set(plugin.name, 'done');
    ordered.push(plugin);
  };
  for (const plugin of plugins) visit(plugin, [plugin.name]);
  return ordered;
}

function missingDependency(
  dependent: string,
  dependency: string,
  config: Pick<HostConfig, 'plugins'>,
): PluginDependencyError {
  const why = config.plugins[dependency]?.enabled === false ? 'is disabled' : 'is not installed';
  const fix =
    why === 'is disabled' ? `enable plugins.${dependency}` : `install the plugin that provides ${dependency}`;
  return new PluginDependencyError(
    dependent,
    `${dependent} needs the ${dependency} plugin, which ${why}: ${fix}, or disable plugins.${dependent}`,
  );
}

/**
 * Applies the plugins in dependency order, each with its validated config section and the APIs of
 * the plugins it declared in `dependsOn`. Returns what each plugin's `apply` returned, by name.
 */
export async function applyPlugins(
  plugins: readonly AnyMeshPlugin[],
  config: Pick<HostConfig, 'plugins'>,
  hostFor: (pluginName: string) => PluginHost,
): Promise<ReadonlyMap<string, AppliedPlugin>> {
  const applied = new Map<string, AppliedPlugin>();
  for (const plugin of orderByDependencies(plugins, config)) {
    const section = pluginSection(config, plugin.name);
    const deps: DependencyApis = Object.freeze(
      Object.fromEntries((plugin.dependsOn ?? []).map((name) => [name, applied.get(name)?.api])),
    );
    const api = await plugin.apply(hostFor(plugin.name), section, deps);
    applied.set(plugin.name, { config: section, api });
  }
  return applied;
}

/** A plugin's config section as its `apply` receives it: validated, defaults filled, without `enabled`. */
export function pluginSection(config: Pick<HostConfig, 'plugins'>, name: string): Record<string, unknown> {
  const { enabled: _enabled, ...section } = config.plugins[name] ?? {};
  return section;
}
