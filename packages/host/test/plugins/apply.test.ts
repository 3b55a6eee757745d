import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { applyPlugins, orderByDependencies } from '../../src/plugins/apply.js';
import { type AnyMeshPlugin, definePlugin, type PluginHost } from '../../src/plugins/types.js';

const named = (name: string, dependsOn: string[] = []): AnyMeshPlugin =>
  definePlugin({ name, dependsOn, apply: () => undefined });
const noPlugins = { plugins: {} };
const names = (plugins: AnyMeshPlugin[]) => plugins.map((p) => p.name);

describe('orderByDependencies', () => {
  it('puts every plugin after the plugins it depends on, keeping the given order otherwise', () => {
    const plugins = [named('zip', ['files']), named('notes'), named('files', ['base']), named('base')];
    expect(names(orderByDependencies(plugins, noPlugins))).toEqual(['base', 'files', 'zip', 'notes']);
  });

  it('refuses a disabled dependency with a ConfigError that says how to fix it', () => {
    const order = () =>
      orderByDependencies([named('zip', ['files'])], { plugins: { files: { enabled: false } } });
    expect(order).toThrow(ConfigError);
    expect(order).toThrow(
      'zip needs the files plugin, which is disabled: enable plugins.files, or disable plugins.zip',
    );
  });

  it('refuses a dependency that is not installed', () => {
    expect(() => orderByDependencies([named('zip', ['files'])], noPlugins)).toThrow(
      /zip needs the files plugin, which is not installed/,
    );
  });

  it('refuses a cycle, naming it', () => {
    expect(() => orderByDependencies([named('a', ['b']), named('b', ['a'])], noPlugins)).toThrow(
      /cycle: a → b → a/,
    );
  });
});

describe('applyPlugins', () => {
  const host = {} as PluginHost;

  it('hands each plugin its config section (without `enabled`) and the APIs of its dependencies only', async () => {
    const seen: unknown[] = [];
    const files = definePlugin({
      name: 'files',
      apply: (_host, config: { dir: string }) => ({ dir: () => config.dir }),
    });
    const zip = definePlugin({
      name: 'zip',
      dependsOn: ['files'],
      apply(_host, config: { level: number }, deps: { files: { dir(): string } }) {
        seen.push(config, Object.keys(deps), deps.files.dir());
        return { level: config.level };
      },
    });
    const applied = await applyPlugins(
      [zip, files, named('other')],
      { plugins: { files: { enabled: true, dir: '/in' }, zip: { level: 3 } } },
      () => host,
    );
    expect(seen).toEqual([{ level: 3 }, ['files'], '/in']);
    expect(applied.get('zip')).toEqual({ config: { level: 3 }, api: { level: 3 } });
    expect([...applied.keys()]).toEqual(['files', 'zip', 'other']);
  });
});
