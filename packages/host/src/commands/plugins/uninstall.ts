import type { Command } from '@oclif/core';
import { commands } from '@oclif/plugin-plugins';
import { MeshError } from '../../cli/errors.js';
import { explainFailure } from '../../cli/explained-command.js';
import {
  installedVersion,
  type PluginEntry,
  type PluginsManager,
  type PluginsNpm,
  pluginsManager,
  verboseFlag,
} from '../../cli/plugins-npm.js';

const PluginsUninstall: (typeof commands)['plugins:uninstall'] = commands['plugins:uninstall'];

export interface Uninstalled {
  name: string;
  version?: string;
  /** `user` for a plugin `plugins install` installed, `link` for one `plugins link` linked. */
  type: 'user' | 'link';
}

/**
 * oclif's `plugins uninstall` (also `unlink`, `remove`), saying one line per plugin instead of
 * its spinner. Every name is checked before anything is removed; a name that is not installed is
 * bad input, and an npm failure is an error rather than oclif's warning.
 */
export default class Uninstall extends PluginsUninstall {
  static override summary = 'Remove installed or linked plugins.';
  static override description =
    'Prints one line per plugin it removed. Give the names `mesh-agent plugins` lists; with none, the plugin linked from the current folder. ' +
    "npm removes an installed plugin's files from the plugins folder; a linked folder is left as it is. " +
    'The plugins shipped with mesh-agent cannot be removed: turn one off with ' +
    '`mesh-agent config set plugins.<name>.enabled false`.';
  // oclif's parse copies a command's own static fields only: restate the inherited ones it reads.
  static override args = PluginsUninstall.args;
  static override flags = { ...PluginsUninstall.flags, verbose: verboseFlag };
  static override strict = false;
  static override enableJsonFlag = true;
  static override aliases = PluginsUninstall.aliases;
  static override examples = ['<%= config.bin %> plugins uninstall mesh-agent-plugin-note'];

  // The base class declares run() as void; with --json, oclif prints what it returns.
  override async run(): Promise<void> {
    const { argv, flags } = await this.parse(Uninstall);
    const { plugins, npm } = await pluginsManager(this.config, flags.verbose);
    const names = argv.length > 0 ? (argv as string[]) : ['.'];
    const found: PluginEntry[] = [];
    for (const name of names) found.push(await this.installed(plugins, name));

    const uninstalled: Uninstalled[] = [];
    for (const plugin of found) uninstalled.push(await removePlugin(this, plugins, npm, plugin));
    await this.config.runHook('plugins:postuninstall', {});
    return { uninstalled } satisfies { uninstalled: Uninstalled[] } as unknown as undefined;
  }

  /** The installed plugin `name` names, or a usage error that says what is installed. */
  private async installed(plugins: PluginsManager, name: string): Promise<PluginEntry> {
    const plugin = await plugins.hasPlugin(withoutTag(name));
    if (plugin) return plugin;
    const loaded = this.config.getPluginsList().find((p) => p.name === withoutTag(name));
    const list = '`mesh-agent plugins` lists the installed plugins';
    if (loaded?.parent)
      throw new MeshError(
        'not_installed',
        `cannot uninstall ${name}: it came with the plugin ${loaded.parent.name}`,
        `uninstall ${loaded.parent.name} instead`,
        2,
      );
    if (loaded?.type === 'core') {
      const meshName = (loaded.pjson as { meshAgent?: { name?: unknown } }).meshAgent?.name;
      throw new MeshError(
        'not_installed',
        `cannot uninstall ${name}: it is part of mesh-agent, not an installed plugin`,
        typeof meshName === 'string'
          ? `turn it off instead: mesh-agent config set plugins.${meshName}.enabled false`
          : list,
        2,
      );
    }
    if (name === '.')
      throw new MeshError(
        'not_installed',
        'no plugin is linked from this folder, so there is nothing to uninstall',
        `give the name of the plugin to uninstall; ${list}`,
        2,
      );
    throw new MeshError('not_installed', `${name} is not an installed plugin`, list, 2);
  }

  protected override async catch(error: Error): Promise<unknown> {
    throw await explainFailure(this, error);
  }
}

/**
 * Removes one plugin and says so: npm uninstalls an installed one (`npm: false` leaves its files,
 * for `reset --hard`, which deletes them all), and it comes off plugin-plugins' list, so it no
 * longer loads, even when npm failed (as oclif does; the failure is still reported).
 */
export async function removePlugin(
  command: Pick<Command, 'config' | 'log'>,
  plugins: PluginsManager,
  npm: PluginsNpm,
  plugin: PluginEntry,
  runNpm = true,
): Promise<Uninstalled> {
  const { config } = command;
  const version =
    config.plugins.get(plugin.name)?.version ??
    (plugin.type === 'user' ? await installedVersion(config.dataDir, plugin.name) : undefined);
  try {
    if (plugin.type === 'user' && runNpm) await npm.uninstall([plugin.name], { cwd: config.dataDir });
  } finally {
    await plugins.remove(plugin.name);
    config.plugins.delete(plugin.name);
  }
  command.log(
    `${plugin.type === 'link' ? 'unlinked' : 'uninstalled'} ${plugin.name}${version ? ` ${version}` : ''}`,
  );
  return { name: plugin.name, ...(version ? { version } : {}), type: plugin.type };
}

/** `name@1.2.0` as `name` (a scope's `@` stays): the version a plugin was installed at. */
function withoutTag(name: string): string {
  const at = name.lastIndexOf('@');
  return at > 0 && !name.slice(at).includes('/') ? name.slice(0, at) : name;
}
