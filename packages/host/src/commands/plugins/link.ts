import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { commands } from '@oclif/plugin-plugins';
import { UsageError } from '../../cli/errors.js';
import { explainFailure } from '../../cli/explained-command.js';
import { pluginsManager, verboseFlag } from '../../cli/plugins-npm.js';
import { provideHostToLinkedPlugin } from '../../cli/user-plugins.js';
import { pathOnDisk } from './install.js';

const PluginsLink: (typeof commands)['plugins:link'] = commands['plugins:link'];

/**
 * oclif's `plugins link`, saying one line (what it linked) instead of its spinner, and a folder
 * that is not there or not a plugin in words rather than oclif's dump of its loader options.
 */
export default class Link extends PluginsLink {
  static override summary = 'Run a plugin from its folder, for developing it.';
  static override description =
    'The folder is used in place (`plugins install <dir>` installs a copy): edits show at the next ' +
    'command. It imports @mesh-agent/host and @oclif/core from its own node_modules (or one above ' +
    "it); where it finds none, links to this CLI's copies go into its node_modules, and stderr says so. " +
    'Prints one line; `plugins uninstall <name>` unlinks it.';
  // oclif's parse copies a command's own static fields only: restate the inherited ones it reads.
  static override args = PluginsLink.args;
  static override flags = { ...PluginsLink.flags, verbose: verboseFlag };
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> plugins link ~/src/my-plugin'];

  // The base class declares run() as void; with --json, oclif prints what it returns.
  override async run(): Promise<void> {
    const { args, flags } = await this.parse(Link);
    const root = pathOnDisk(args.path);
    const hint = 'give the folder of a plugin (with its package.json)';
    if (!(await stat(root).catch(() => undefined))?.isDirectory())
      throw new UsageError(`cannot link ${args.path}: ${root} is not a folder`, hint);
    if (!(await stat(join(root, 'package.json')).catch(() => undefined)))
      throw new UsageError(
        `cannot link ${args.path}: ${root} has no package.json, so it is not a plugin`,
        hint,
      );
    // Before oclif's link, which imports the plugin's commands.
    const provided = await provideHostToLinkedPlugin(root);
    const { plugins } = await pluginsManager(this.config, flags.verbose);
    const linked = await plugins.link(root, { install: flags.install });
    this.log(`linked ${linked.name} ${linked.version} (${linked.root})`);
    return {
      linked: { name: linked.name, version: linked.version, root: linked.root },
      provided,
    } as unknown as undefined;
  }

  protected override async catch(error: Error): Promise<unknown> {
    throw await explainFailure(this, error);
  }
}
