import { commands } from '@oclif/plugin-plugins';
import { explainFailure } from '../../cli/explained-command.js';
import { installedVersion, mustStillExist, pluginsManager, verboseFlag } from '../../cli/plugins-npm.js';
import { provideHostToUserPlugins } from '../../cli/user-plugins.js';

const PluginsUpdate: (typeof commands)['plugins:update'] = commands['plugins:update'];

interface Versions {
  name: string;
  /** Before the update, or undefined when npm's copy was missing. */
  from: string | undefined;
  to: string | undefined;
}

/**
 * oclif's `plugins update`, saying what changed (one line per updated plugin, or that all are up
 * to date) instead of its spinner; npm's failures are errors in npm's words.
 */
export default class Update extends PluginsUpdate {
  static override summary = 'Update the plugins installed with `plugins install`.';
  static override description =
    'Each plugin from npm is updated to the newest version of the tag or range it was installed with; ' +
    'one from a path, GitHub or a git URL is installed again from there. Linked plugins are left alone. ' +
    'Prints one line per plugin whose version changed, or that all are up to date.';
  // oclif's parse copies a command's own static fields only: restate the inherited ones it reads.
  static override flags = { ...PluginsUpdate.flags, verbose: verboseFlag };
  static override enableJsonFlag = true;
  static override examples = [
    { command: '<%= config.bin %> plugins update', description: 'Update every plugin.' },
  ];

  // The base class declares run() as void; with --json, oclif prints what it returns.
  override async run(): Promise<void> {
    const { flags } = await this.parse(Update);
    const { plugins, npm } = await pluginsManager(this.config, flags.verbose);
    const installed = (await plugins.list()).filter((p) => p.type === 'user');
    if (installed.length === 0) {
      this.log('no plugins to update: none was installed with `mesh-agent plugins install`');
      return { updated: [], upToDate: [] } as unknown as undefined;
    }
    for (const plugin of installed) await mustStillExist(plugin, 'update');
    const before = await this.versions(installed.map((p) => p.name));
    // npm may install a plugin again: it must find the host where it runs, as at `plugins install`.
    await provideHostToUserPlugins(this.config, true);
    // Not plugin-plugins' update: its `npm update` never reads a path or a git URL again, so a
    // rebuilt plugin stayed as it was and was called up to date. npm installs each one again from
    // where it came from (a path, a URL, or its tag or range on the registry), all in one run.
    await npm.install(
      installed.map((p) => p.url ?? `${p.name}@${p.tag ?? 'latest'}`),
      { cwd: this.config.dataDir, prod: true },
    );
    const after = await this.versions(installed.map((p) => p.name));

    const updated: Versions[] = [];
    const upToDate: { name: string; version: string | undefined }[] = [];
    for (const [name, to] of after) {
      const from = before.get(name);
      if (from === to) upToDate.push({ name, version: to });
      else {
        updated.push({ name, from, to });
        this.log(`updated ${name} ${from ?? '(missing)'} -> ${to ?? '(missing)'}`);
      }
    }
    if (updated.length === 0) this.log('all plugins are up to date');
    return { updated, upToDate } as unknown as undefined;
  }

  private async versions(names: string[]): Promise<Map<string, string | undefined>> {
    return new Map(
      await Promise.all(
        names.map(async (name) => [name, await installedVersion(this.config.dataDir, name)] as const),
      ),
    );
  }

  protected override async catch(error: Error): Promise<unknown> {
    throw await explainFailure(this, error);
  }
}
