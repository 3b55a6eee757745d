// Each shipped plugin's config validator, generated at build from its schema, must judge config
// exactly as ajv compiling that schema at run time does (the host's own: prebuilt-validator.test.ts).
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { describe, expect, it } from 'vitest';
import { AJV_OPTIONS } from '../../src/config/validate.js';
import { findPluginPackages } from '../../src/plugins/discover.js';

const ROOT = resolve(import.meta.dirname, '../../../..');
const SHIPPED = (
  JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { oclif: { plugins: string[] } }
).oclif.plugins;

const packages = findPluginPackages(
  SHIPPED.filter((name) => name.startsWith('@mesh-agent/plugin-')).map((name) => {
    const root = resolve(ROOT, 'plugins', name.replace('@mesh-agent/plugin-', ''));
    return { name, root, pjson: JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as object };
  }),
);

type Schema = { properties?: Record<string, unknown> };

/** Trees to judge: empty (defaults filled), an unknown key, and every property given a wrong type. */
function trees(schema: Schema): Array<[string, Record<string, unknown>]> {
  const keys = Object.keys(schema.properties ?? {});
  return [
    ['an empty section', {}],
    ['an unknown key', { bogus: 1 }],
    ['every property a wrong type', Object.fromEntries(keys.map((k) => [k, { wrong: true }]))],
    ['every property a string', Object.fromEntries(keys.map((k) => [k, 'x']))],
    ['every property a negative number', Object.fromEntries(keys.map((k) => [k, -1]))],
  ];
}

function verdict(validate: ValidateFunction, tree: Record<string, unknown>) {
  const valid = validate(tree);
  const errors = (validate.errors ?? []).map((e) => `${e.instancePath} ${e.keyword}`).sort();
  return { valid, errors, tree };
}

describe('plugin config validators generated at build time', () => {
  it('every shipped plugin names one', () => {
    expect(packages.length).toBeGreaterThan(0);
    for (const pkg of packages) expect(pkg.validatorEntry, pkg.packageName).toBeDefined();
  });

  describe.each(packages.map((pkg) => [pkg.name, pkg] as const))('%s', (_name, pkg) => {
    it('carries the schema it was built from, so reading config need not load the schema module', async () => {
      const { configSchema } = await import(pathToFileURL(pkg.configEntry as string).href);
      const carried = (await import(pathToFileURL(pkg.validatorEntry as string).href)).configSchema;
      expect(carried).toEqual(configSchema);
    });

    it('judges each tree exactly as ajv compiling the schema does', async () => {
      const { configSchema } = (await import(pathToFileURL(pkg.configEntry as string).href)) as {
        configSchema: Schema;
      };
      const prebuilt = (await import(pathToFileURL(pkg.validatorEntry as string).href))
        .default as ValidateFunction;
      const compiled = new Ajv(AJV_OPTIONS).compile(configSchema);
      for (const [what, tree] of trees(configSchema)) {
        expect(verdict(prebuilt, structuredClone(tree)), `${what} (${dirname(pkg.entry)})`).toEqual(
          verdict(compiled, structuredClone(tree)),
        );
      }
    });
  });
});
