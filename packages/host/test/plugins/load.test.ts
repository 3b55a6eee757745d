// Which modules importPluginSchema loads: the prebuilt validator alone when it carries its schema.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PluginPackage } from '../../src/plugins/discover.js';
import { importPluginSchema } from '../../src/plugins/load.js';

const SCHEMA = { type: 'object', properties: { level: { type: 'integer', default: 3 } } };

/** A plugin package on disk; `modules` maps file names to their source. */
function pluginPackage(modules: Record<string, string>): PluginPackage {
  const root = mkdtempSync(join(tmpdir(), 'mesh-load-'));
  mkdirSync(join(root, 'dist'));
  for (const [name, source] of Object.entries(modules)) writeFileSync(join(root, 'dist', name), source);
  return {
    name: 'p',
    packageName: 'mesh-plugin-p',
    entry: join(root, 'dist/index.js'),
    configEntry: join(root, 'dist/config.js'),
    validatorEntry: join(root, 'dist/config-validator.js'),
  };
}

const THROWS = "throw new Error('this module must not be loaded');";
const VALIDATOR = 'export default function validate() { return true; }';
const CONFIG_MODULE = `export const configSchema = ${JSON.stringify(SCHEMA)};`;

describe('importPluginSchema', () => {
  it('takes the schema from a prebuilt validator that carries it, loading neither the config module nor the plugin', async () => {
    const pkg = pluginPackage({
      'index.js': THROWS,
      'config.js': THROWS,
      'config-validator.js': `${VALIDATOR}\nexport const configSchema = ${JSON.stringify(SCHEMA)};`,
    });
    const loaded = await importPluginSchema(pkg);
    expect(loaded.schema).toEqual(SCHEMA);
    expect(loaded.validate).toBeTypeOf('function');
  });

  it('reads the config module when the validator was built without its schema', async () => {
    const pkg = pluginPackage({
      'index.js': THROWS,
      'config.js': CONFIG_MODULE,
      'config-validator.js': VALIDATOR,
    });
    const loaded = await importPluginSchema(pkg);
    expect(loaded.schema).toEqual(SCHEMA);
    expect(loaded.validate).toBeTypeOf('function');
  });

  it('leaves a broken validator to ajv and takes the schema from the config module', async () => {
    const pkg = pluginPackage({
      'index.js': THROWS,
      'config.js': CONFIG_MODULE,
      'config-validator.js': THROWS,
    });
    const loaded = await importPluginSchema(pkg);
    expect(loaded.schema).toEqual(SCHEMA);
    expect(loaded.validate).toBeUndefined();
  });

  it('prefers the imported plugin’s own schema over the carried copy', async () => {
    const own = { type: 'object' };
    const pkg = pluginPackage({
      'index.js': THROWS,
      'config.js': THROWS,
      'config-validator.js': `${VALIDATOR}\nexport const configSchema = ${JSON.stringify(SCHEMA)};`,
    });
    const loaded = await importPluginSchema(pkg, { name: 'p', configSchema: own, apply: () => undefined });
    expect(loaded.schema).toBe(own);
  });
});
