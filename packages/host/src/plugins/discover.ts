import { join } from 'node:path';

/** `package.json#meshAgent`: how a package declares that it carries a mesh-agent plugin. */
export interface PluginPackageField {
  name: string;
  main: string;
  /**
   * Optional: a module exporting `configSchema` and importing little else, so commands that only
   * read config (`mesh-agent config`) need not load the plugin itself.
   */
  config?: string;
  /**
   * Optional: that schema compiled to a validator module at build (the host's
   * scripts/generate-config-validator.mjs), so checking config needs no ajv at run time. The
   * module also exports the schema as `configSchema`, so reading config loads it alone.
   */
  configValidator?: string;
}

export interface PluginPackage {
  /** The plugin's config name. */
  name: string;
  packageName: string;
  /** Absolute path of the module whose default export is the MeshPlugin. */
  entry: string;
  /** Absolute path of the module exporting `configSchema`, when the package names one. */
  configEntry?: string;
  /** Absolute path of the module default-exporting the prebuilt validator of that schema. */
  validatorEntry?: string;
}

/** The shape of an oclif plugin this module needs; oclif's own `Plugin` satisfies it. */
export interface PackageLike {
  name: string;
  root: string;
  pjson: object;
}

/** Picks the packages that carry a mesh-agent plugin from the packages oclif loaded. */
export function findPluginPackages(packages: Iterable<PackageLike>): PluginPackage[] {
  const found: PluginPackage[] = [];
  for (const pkg of packages) {
    const field = (pkg.pjson as { meshAgent?: Partial<PluginPackageField> }).meshAgent;
    if (!field) continue;
    if (typeof field.name !== 'string' || typeof field.main !== 'string') {
      throw new Error(`${pkg.name}: package.json#meshAgent needs string "name" and "main" fields`);
    }
    for (const key of ['config', 'configValidator'] as const) {
      if (field[key] !== undefined && typeof field[key] !== 'string') {
        throw new Error(`${pkg.name}: package.json#meshAgent.${key} must be a path`);
      }
    }
    found.push({
      name: field.name,
      packageName: pkg.name,
      entry: join(pkg.root, field.main),
      ...(field.config ? { configEntry: join(pkg.root, field.config) } : {}),
      ...(field.configValidator ? { validatorEntry: join(pkg.root, field.configValidator) } : {}),
    });
  }
  return found;
}
