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

/**
 * A plugin's config schema, with its prebuilt validator when the package ships one: the schema
 * from `plugin` when it is already imported, else the copy the prebuilt validator module carries,
 * else from its light config module when it names one, else from the plugin.
 */
export async function importPluginSchema(pkg: PluginPackage, plugin?: AnyMeshPlugin): Promise<PluginSchema> {
  const prebuilt = await importPrebuilt(pkg);
  const schema = plugin ? plugin.configSchema : (prebuilt.schema ?? (await schemaOf(pkg)));
  return { name: pkg.name, schema, ...(prebuilt.validate ? { validate: prebuilt.validate } : {}) };
}

async function schemaOf(pkg: PluginPackage): Promise<object | undefined> {
  if (!pkg.configEntry) return (await importPlugin(pkg)).configSchema;
  const schema = (await importFrom(pkg, pkg.configEntry)).configSchema;
  if (schema !== undefined && !isObject(schema)) {
    throw new PluginLoadError(pkg.packageName, `${pkg.configEntry} must export configSchema as an object`);
  }
  return schema;
}

/**
 * The prebuilt validator and the schema it was built from (validators built before the schema
 * rode along carry none), or nothing: without one, or with a broken one, ajv compiles the schema.
 */
async function importPrebuilt(
  pkg: PluginPackage,
): Promise<{ validate?: PluginSchema['validate']; schema?: object }> {
  if (!pkg.validatorEntry) return {};
  const module = await importFrom(pkg, pkg.validatorEntry).catch(() => undefined);
  if (typeof module?.default !== 'function') return {};
  const validate = module.default as PluginSchema['validate'];
  return isObject(module.configSchema) ? { validate, schema: module.configSchema } : { validate };
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
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
