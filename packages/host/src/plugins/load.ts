import { pathToFileURL } from 'node:url';
import type { PluginPackage } from './discover.js';
import type { AnyMeshPlugin } from './types.js';

export class PluginLoadError extends Error {
  constructor(
    readonly packageName: string,
    message: string,
  ) {
    super(`plugin ${packageName}: ${message}`);
    this.name = 'PluginLoadError';
  }
}

/** Imports a plugin package's entry and checks it is a MeshPlugin named as its package.json says. */
export async function importPlugin(pkg: PluginPackage): Promise<AnyMeshPlugin> {
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(pkg.entry).href)) as { default?: unknown };
  } catch (error) {
    throw new PluginLoadError(pkg.packageName, `cannot load ${pkg.entry}: ${(error as Error).message}`);
  }
  const plugin = mod.default as Partial<AnyMeshPlugin> | undefined;
  if (!plugin || typeof plugin.apply !== 'function' || typeof plugin.name !== 'string') {
    throw new PluginLoadError(pkg.packageName, 'its entry must default-export { name, apply(host) }');
  }
  const { dependsOn } = plugin;
  if (
    dependsOn !== undefined &&
    !(Array.isArray(dependsOn) && dependsOn.every((d) => typeof d === 'string'))
  ) {
    throw new PluginLoadError(pkg.packageName, 'dependsOn must be an array of plugin names');
  }
  if (plugin.name !== pkg.name) {
    throw new PluginLoadError(
      pkg.packageName,
      `exports name "${plugin.name}" but package.json#meshAgent.name is "${pkg.name}"`,
    );
  }
  return plugin as AnyMeshPlugin;
}
