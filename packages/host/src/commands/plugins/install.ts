import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { Plugin } from '@oclif/core';
import { commands } from '@oclif/plugin-plugins';
import { UsageError } from '../../cli/errors.js';
import { explainFailure } from '../../cli/explained-command.js';
import { installedVersion, pluginsManager } from '../../cli/plugins-npm.js';
import { provideHostToUserPlugins } from '../../cli/user-plugins.js';

const PluginsInstall: (typeof commands)['plugins:install'] = commands['plugins:install'];
type Parsed = Awaited<ReturnType<InstanceType<typeof PluginsInstall>['parsePlugin']>>;
type Plugins = Parameters<InstanceType<typeof PluginsInstall>['parsePlugin']>[0];

interface Installed {
  name: string;
  version: string;
  from: string;
  commands: string[];
}

/**
 * oclif's `plugins install` (npm names, GitHub, git URLs) with what mesh-agent needs on top: a
 * path on disk installs from there (oclif reads `/x.tgz` or `./dir` as a GitHub `user/repo`), the
 * host is linked before npm runs, and a person reads one line saying what was installed instead of
 * npm's output (--verbose shows it).
 */
export default class Install extends PluginsInstall {
  static override summary = 'Install a plugin from npm, a folder or a .tgz file.';
  static override description =
    'Installs into the plugins folder, $XDG_DATA_HOME/mesh-agent-plugins (npm works in its subfolder installed/, or in ' +
    'MESH_AGENT_DATA_DIR), not into the agent home. A path (absolute, ./ or ../, ~/, or a .tgz file) installs from disk: a folder is copied as `npm pack` ' +
    'would pack it (use `plugins link` to run a folder in place). Anything else is an npm package name, a GitHub ' +
    'user/repo or a git URL. Plugins import @mesh-agent/host and @oclif/core from this CLI (declare them as peer ' +
    'dependencies).';
  // oclif's parse copies a command's own static fields only: restate the inherited ones it reads.
  static override args = PluginsInstall.args;
  static override flags = PluginsInstall.flags;
  static override strict = false;
  static override enableJsonFlag = true;
  static override aliases = PluginsInstall.aliases;
  static override examples = [
    {
      command: '<%= config.bin %> plugins install ./mesh-agent-plugin-note-1.0.0.tgz',
      description: 'Install a plugin packed with `npm pack`.',
    },
    {
      command: '<%= config.bin %> plugins install ~/src/my-plugin',
      description: 'Install a copy of a folder.',
    },
    { command: '<%= config.bin %> plugins install mesh-agent-plugin-note', description: 'Install from npm.' },
  ];

  // The base class declares run() as void; with --json, oclif prints what it returns.
  override async run(): Promise<void> {
    const { argv, flags } = await this.parse(Install);
    this.flags = flags;
    const { plugins } = await pluginsManager(this.config, flags.verbose);
    // Before npm runs: oclif loads the new plugin's commands right after, and they import the host.
    await provideHostToUserPlugins(this.config, true);
    const installed: Installed[] = [];
    for (const input of argv as string[]) {
      const parsed =
        (await pluginOnDisk(input)) ?? (await this.parsePlugin(plugins as unknown as Plugins, input));
      await this.config.runHook('plugins:preinstall', { plugin: parsed });
      const from = parsed.type === 'npm' ? `${parsed.name}@${parsed.tag}` : parsed.url;
      const loaded =
        parsed.type === 'npm'
          ? await plugins.install(parsed.name, { force: flags.force, tag: parsed.tag })
          : await plugins.install(parsed.url, { force: flags.force });
      const plugin = new Plugin(loaded);
      await plugin.load();
      this.config.plugins.set(plugin.name, plugin);
      await this.config.runHook('plugins:postinstall', {});
      // Read from disk: oclif caches the package.json files it read at start-up (in production), so
      // a plugin installed over another version would be named with the version it replaced.
      const version = (await installedVersion(this.config.dataDir, plugin.name)) ?? plugin.version;
      const commands = plugin.commandIDs.map((id) => id.replaceAll(':', ' ')).sort();
      this.log(
        `installed ${plugin.name} ${version}` +
          (commands.length > 0
            ? ` (${commands.length === 1 ? 'command' : 'commands'}: ${commands.join(', ')})`
            : ''),
      );
      installed.push({ name: plugin.name, version, from, commands });
    }
    return { installed } satisfies { installed: Installed[] } as unknown as undefined;
  }

  protected override async catch(error: Error): Promise<unknown> {
    throw await explainFailure(this, error);
  }
}

/** Whether an argument names something on disk rather than a package, a GitHub slug or a URL. */
export function isPath(input: string): boolean {
  return (
    isAbsolute(input) ||
    /^(\.{1,2}|~)([/\\]|$)/.test(input) ||
    input.startsWith('file:') ||
    /\.(tgz|tar\.gz|tar)$/i.test(input)
  );
}

/** A path as the shell would read it: `~/` is the home folder, a relative one is from `cwd`. */
export function pathOnDisk(given: string, cwd = process.cwd()): string {
  return given === '~' || given.startsWith('~/') ? join(homedir(), given.slice(1)) : resolve(cwd, given);
}

/** A path to a plugin as npm's `file:` spec, or undefined for anything that is not a path. Fails at once on a missing one. */
export async function pluginOnDisk(input: string, cwd = process.cwd()): Promise<Parsed | undefined> {
  if (!isPath(input)) return undefined;
  const path = pathOnDisk(input.replace(/^file:/, ''), cwd);
  const found = await stat(path).catch(() => undefined);
  const hint =
    'give the path of a plugin folder (with its package.json) or of a .tgz file made by `npm pack`; ' +
    'a name without ./ or / installs from npm';
  if (!found) throw new UsageError(`cannot install ${input}: ${path} does not exist`, hint);
  if (found.isDirectory() && !(await stat(join(path, 'package.json')).catch(() => undefined)))
    throw new UsageError(`cannot install ${input}: ${path} has no package.json, so it is not a plugin`, hint);
  return { type: 'repo', url: `file:${path}` };
}
