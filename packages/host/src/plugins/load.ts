import { pathToFileURL } from 'node:url';
import type { PluginSchema } from '../config/validate.js';
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

/** Imports `path`, or says which plugin could not be loaded. */
async function importFrom(pkg: PluginPackage, path: string): Promise<Record<string, unknown>> {
  try {
    return (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    throw new PluginLoadError(pkg.packageName, `cannot load ${path}: ${(error as Error).message}`);
  }
}

/** A plugin's config schema: from its light config module when it names one, else from the plugin. */
export async function importPluginSchema(pkg: PluginPackage): Promise<PluginSchema> {
  if (!pkg.configEntry) return { name: pkg.name, schema: (await importPlugin(pkg)).configSchema };
  const schema = (await importFrom(pkg, pkg.configEntry)).configSchema;
  if (schema !== undefined && (typeof schema !== 'object' || schema === null)) {
    throw new PluginLoadError(pkg.packageName, `${pkg.configEntry} must export configSchema as an object`);
  }
  return { name: pkg.name, schema: schema as object | undefined };
}

/** Imports a plugin package's entry and checks it is a MeshPlugin named as its package.json says. */
export async function importPlugin(pkg: PluginPackage): Promise<AnyMeshPlugin> {
  const plugin = (await importFrom(pkg, pkg.entry)).default as Partial<AnyMeshPlugin> | undefined;
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
