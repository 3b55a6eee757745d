import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { commands } from '@oclif/plugin-plugins';
import { explainFailure } from '../../cli/explained-command.js';
import { pluginsManager, verboseFlag } from '../../cli/plugins-npm.js';
import { provideHostToUserPlugins } from '../../cli/user-plugins.js';
import { removePlugin, type Uninstalled } from './uninstall.js';

const PluginsReset: (typeof commands)['plugins:reset'] = commands['plugins:reset'];

/** npm's files in the data dir, which --hard deletes. */
const NPM_FILES = ['node_modules', 'package.json', 'package-lock.json', 'yarn.lock'];

/**
 * oclif's `plugins reset`: every installed and linked plugin removed (and with --reinstall put back)
 * with one line each, as `plugins uninstall` and `plugins install` say it, instead of its list,
 * check marks and npm's output.
 */
export default class Reset extends PluginsReset {
  static override summary = 'Remove every installed and linked plugin.';
  static override description =
    'Prints one line per plugin it removed. --reinstall installs (or links) each one again from where it ' +
    "came from, as a repair; --hard also deletes npm's files in the plugins folder.";
  // oclif's parse copies a command's own static fields only: restate the inherited ones it reads.
  static override flags = { ...PluginsReset.flags, verbose: verboseFlag };
  static override enableJsonFlag = true;

  // The base class declares run() as void; with --json, oclif prints what it returns.
  override async run(): Promise<void> {
    const { flags } = await this.parse(Reset);
    const { plugins, npm } = await pluginsManager(this.config, flags.verbose);
    const found = await plugins.list();
    if (found.length === 0) this.log('no plugins to remove');
    const uninstalled: Uninstalled[] = [];
    for (const plugin of found) uninstalled.push(await removePlugin(this, plugins, npm, plugin, !flags.hard));
    if (flags.hard)
      await Promise.all(
        NPM_FILES.map((file) => rm(join(this.config.dataDir, file), { force: true, recursive: true })),
      );
    const reinstalled: { name: string; version: string; type: 'user' | 'link' }[] = [];
    if (flags.reinstall && found.length > 0) {
      await provideHostToUserPlugins(this.config, true);
      for (const plugin of found) {
        const loaded =
          plugin.type === 'link'
            ? await plugins.link(plugin.root, { install: false })
            : await plugins.install(
                plugin.url ?? plugin.name,
                plugin.url ? {} : { tag: plugin.tag ?? 'latest' },
              );
        this.log(`${plugin.type === 'link' ? 'linked' : 'installed'} ${loaded.name} ${loaded.version}`);
        reinstalled.push({ name: loaded.name, version: loaded.version, type: plugin.type });
      }
    }
    return { uninstalled, ...(flags.reinstall ? { reinstalled } : {}) } as unknown as undefined;
  }

  protected override async catch(error: Error): Promise<unknown> {
    throw await explainFailure(this, error);
  }
}
