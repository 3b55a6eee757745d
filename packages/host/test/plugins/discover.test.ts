import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findPluginPackages } from '../../src/plugins/discover.js';
import { importPluginSchema, PluginLoadError } from '../../src/plugins/load.js';

const terminalRoot = fileURLToPath(new URL('../../../../plugins/terminal', import.meta.url));
const pkg = (meshAgent: object, root = '/opt/p') => ({ name: '@x/p', root, pjson: { meshAgent } });

describe('plugin packages and their config schemas', () => {
  it('reads meshAgent.config as the path of a light config module', () => {
    const [found] = findPluginPackages([
      pkg({ name: 'p', main: './dist/index.js', config: './dist/config.js' }),
    ]);
    expect(found).toEqual({
      name: 'p',
      packageName: '@x/p',
      entry: '/opt/p/dist/index.js',
      configEntry: '/opt/p/dist/config.js',
    });
    expect(() => findPluginPackages([pkg({ name: 'p', main: 'i.js', config: 3 })])).toThrow(
      /config must be a path/,
    );
  });

  it('reads meshAgent.configValidator as the path of the prebuilt validator', () => {
    const [found] = findPluginPackages([
      pkg({ name: 'p', main: './dist/index.js', configValidator: './dist/config-validator.js' }),
    ]);
    expect(found?.validatorEntry).toBe('/opt/p/dist/config-validator.js');
    expect(() => findPluginPackages([pkg({ name: 'p', main: 'i.js', configValidator: {} })])).toThrow(
      /configValidator must be a path/,
    );
  });

  it('hands over the prebuilt validator with the schema, and none when it cannot be loaded', async () => {
    const shipped = { name: 'terminal', main: './dist/index.js', config: './dist/config.js' };
    const [withValidator, withBroken] = findPluginPackages([
      pkg({ ...shipped, configValidator: './dist/config-validator.js' }, terminalRoot),
      pkg({ ...shipped, configValidator: './dist/missing.js' }, terminalRoot),
    ]);
    const prebuilt = await importPluginSchema(withValidator as NonNullable<typeof withValidator>);
    const section: Record<string, unknown> = {};
    expect(prebuilt.validate?.(section)).toBe(true);
    expect(section).toEqual({ viewerBufferBytes: 8 * 1024 * 1024, viewerStallSeconds: 30 });
    // Without it, validateConfig compiles the schema: slower, never wrong.
    const fallback = await importPluginSchema(withBroken as NonNullable<typeof withBroken>);
    expect(fallback.validate).toBeUndefined();
    expect(fallback.schema).toEqual(prebuilt.schema);
  });

  it('takes a schema from the config module alone when the package names one (built plugin)', async () => {
    const [terminal] = findPluginPackages([
      pkg({ name: 'terminal', main: './dist/index.js', config: './dist/config.js' }, terminalRoot),
    ]);
    const { schema } = await importPluginSchema(terminal as NonNullable<typeof terminal>);
    expect(schema).toMatchObject({ properties: { viewerStallSeconds: { default: 30 } } });
  });

  it('says which plugin failed when its config module cannot be loaded', async () => {
    const [broken] = findPluginPackages([pkg({ name: 'p', main: 'i.js', config: './missing.js' })]);
    const loading = importPluginSchema(broken as NonNullable<typeof broken>);
    await expect(loading).rejects.toThrow(PluginLoadError);
    await expect(loading).rejects.toThrow(/@x\/p: cannot load \/opt\/p\/missing\.js/);
  });
});
