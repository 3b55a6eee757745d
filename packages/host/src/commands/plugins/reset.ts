import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { commands } from '@oclif/plugin-plugins';
import { PartialFailure } from '../../cli/errors.js';
import { explainFailure } from '../../cli/explained-command.js';
import { mustStillExist, type PluginEntry, pluginsManager, verboseFlag } from '../../cli/plugins-npm.js';
import { provideHostToLinkedPlugin, provideHostToUserPlugins } from '../../cli/user-plugins.js';
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
    "came from, as a repair, after checking that every path and folder is still there; --hard also deletes npm's " +
    'files in the plugins folder. A plugin that fails is named, the others go on, and the exit code is 1.';
  // oclif's parse copies a command's own static fields only: restate the inherited ones it reads.
  static override flags = { ...PluginsReset.flags, verbose: verboseFlag };
  static override enableJsonFlag = true;

  // The base class declares run() as void; with --json, oclif prints what it returns.
  override async run(): Promise<void> {
    const { flags } = await this.parse(Reset);
    const { plugins, npm } = await pluginsManager(this.config, flags.verbose);
    const found = await plugins.list();
    if (found.length === 0) this.log('no plugins to remove');
    // A repair must not lose a plugin it cannot put back: every source is checked first.
    if (flags.reinstall) for (const plugin of found) await mustStillExist(plugin, 'reinstall');
    const failed: { name: string; message: string }[] = [];
    /** One plugin's failure is said and counted; the others still get their turn. */
    const each = async <T>(plugin: PluginEntry, work: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await work();
      } catch (error) {
        const message = (error as Error).message;
        failed.push({ name: plugin.name, message });
        // On stderr with --json too (logToStderr would drop it): stdout keeps only the JSON.
        process.stderr.write(`warning: ${plugin.name}: ${message}\n`);
        return undefined;
      }
    };
    const uninstalled: Uninstalled[] = [];
    for (const plugin of found) {
      const removed = await each(plugin, () => removePlugin(this, plugins, npm, plugin, !flags.hard));
      if (removed) uninstalled.push(removed);
    }
    if (flags.hard)
      await Promise.all(
        NPM_FILES.map((file) => rm(join(this.config.dataDir, file), { force: true, recursive: true })),
      );
    const reinstalled: { name: string; version: string; type: 'user' | 'link' }[] = [];
    if (flags.reinstall && found.length > 0) {
      await provideHostToUserPlugins(this.config, true);
      for (const plugin of found) {
        const loaded = await each(plugin, async () => {
          if (plugin.type === 'user')
            return plugins.install(
              plugin.url ?? plugin.name,
              plugin.url ? {} : { tag: plugin.tag ?? 'latest' },
            );
          await provideHostToLinkedPlugin(plugin.root);
          return plugins.link(plugin.root, { install: false });
        });
        if (!loaded) continue;
        this.log(`${plugin.type === 'link' ? 'linked' : 'installed'} ${loaded.name} ${loaded.version}`);
        reinstalled.push({ name: loaded.name, version: loaded.version, type: plugin.type });
      }
    }
    const result = { uninstalled, ...(flags.reinstall ? { reinstalled } : {}) };
    if (failed.length > 0)
      throw new PartialFailure(
        'plugins_reset_failed',
        `${failed.map((f) => f.name).join(', ')}: not ${flags.reinstall ? 'reset' : 'removed'} (see the warnings above)`,
        { ...result, failed },
        flags.reinstall
          ? 'install (or link) each one again: mesh-agent plugins install <plugin>'
          : "try again with --verbose to see npm's output, or with --hard",
      );
    return result as unknown as undefined;
  }

  protected override async catch(error: Error): Promise<unknown> {
    throw await explainFailure(this, error);
  }
}
