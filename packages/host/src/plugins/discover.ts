import { join } from 'node:path';

/** `package.json#meshAgent`: how a package declares that it carries a mesh-agent plugin. */
export interface PluginPackageField {
  name: string;
  main: string;
}

export interface PluginPackage {
  /** The plugin's config name. */
  name: string;
  packageName: string;
  /** Absolute path of the module whose default export is the MeshPlugin. */
  entry: string;
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
    found.push({ name: field.name, packageName: pkg.name, entry: join(pkg.root, field.main) });
  }
  return found;
}
