import { lstat, mkdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { dataHome, MODULE_NAME } from '../config/load.js';

/**
 * Where `mesh-agent plugins install` puts plugins: a folder of their own next to the agent home,
 * never inside it, so resetting the agent home keeps them and npm's files stay out of it:
 *
 *     $XDG_DATA_HOME/mesh-agent-plugins/
 *       node_modules/@mesh-agent/host -> the running CLI's host     (ours; npm never sees it)
 *       node_modules/@oclif/core      -> the running CLI's oclif
 *       installed/                    oclif's data dir: npm's package.json, lockfile, .npmrc and
 *         node_modules/<plugin>       the installed plugins, which find the host one level up
 */
export const PLUGINS_DIRNAME = 'mesh-agent-plugins';

/** Packages a plugin imports from the CLI that runs it (its peer dependencies). */
const PROVIDED_PACKAGES = ['@mesh-agent/host', '@oclif/core'];

/** What npm keeps in oclif's data dir, and so what moves out of the agent home. */
const NPM_FILES = ['package.json', 'package-lock.json', 'node_modules'];

/**
 * Written into the npm root. Plugins declare the host as peer dependencies, which are not on the
 * registry: npm must leave them to Node's resolution (the links one level up) rather than fetch
 * them. A folder is copied as a tarball would be, not linked (`plugins link` is for that), so the
 * plugin resolves the host from the plugins folder. And none of npm's chatter.
 */
const NPMRC = `# Written by mesh-agent (see README, user plugins).
legacy-peer-deps=true
install-links=true
fund=false
audit=false
update-notifier=false
`;

/** oclif's data dir for plugins when MESH_AGENT_DATA_DIR does not name one. */
export function defaultPluginsDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(dataHome(env), PLUGINS_DIRNAME, 'installed');
}

/**
 * Points oclif's data dir at the plugins folder (MESH_AGENT_DATA_DIR, which oclif reads, unless
 * it is set already) and links the host there, before oclif loads the user's plugins (it imports
 * the commands of a plugin without a manifest as it loads it). Plugins an older mesh-agent
 * installed into `$XDG_DATA_HOME/mesh-agent` (the default agent home) are moved out once, and it
 * says so; if they cannot be moved, they stay and keep working from there. Without user plugins,
 * two failed reads per run.
 */
export async function placeUserPlugins(
  env: NodeJS.ProcessEnv = process.env,
  say: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<void> {
  if (!env.MESH_AGENT_DATA_DIR) {
    env.MESH_AGENT_DATA_DIR = defaultPluginsDataDir(env);
    await moveOldPlugins(env, join(dataHome(env), MODULE_NAME), say);
  }
  const plugins = await userPluginsIn(env.MESH_AGENT_DATA_DIR);
  if (plugins?.some((p) => typeof p === 'string' || p.type === 'user'))
    await provideHostToUserPlugins({ dataDir: env.MESH_AGENT_DATA_DIR });
}

/**
 * oclif reports a plugin it cannot load (a linked folder that is gone, a command whose imports
 * fail) as a Node warning with its loader's details, on every command and sometimes twice. Each
 * is said once per run, in one line with what to do; other warnings print as Node prints them.
 */
export function sayPluginLoadFailures(
  write: (text: string) => void = (text) => process.stderr.write(text),
): void {
  const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  const said = new Set<string>();
  process.emitWarning = ((warning: unknown, ...rest: unknown[]) => {
    const detail = warning instanceof Error ? (warning as { detail?: unknown }).detail : undefined;
    const plugin = typeof detail === 'string' ? /^plugin: (.+)$/m.exec(detail)?.[1] : undefined;
    if (!plugin) return emit(warning, ...rest);
    const message = (warning as Error).message.split('\n')[0] ?? '';
    if (said.has(message)) return;
    said.add(message);
    // The CLI itself names the plugin only by its path when the plugin's folder is gone.
    const which = plugin === MODULE_NAME ? 'a plugin' : `plugin ${plugin}`;
    write(
      `warning: ${which} could not be loaded: ${message}\n` +
        `hint:  \`${MODULE_NAME} plugins\` lists the plugins; \`${MODULE_NAME} plugins uninstall <name>\` removes one\n`,
    );
  }) as typeof process.emitWarning;
}

type PluginEntry = string | { name?: unknown; type?: unknown };

/** The plugins oclif lists in a data dir's package.json, or undefined when there is none. */
async function userPluginsIn(dataDir: string): Promise<PluginEntry[] | undefined> {
  try {
    const plugins = JSON.parse(await readFile(join(dataDir, 'package.json'), 'utf8')).oclif?.plugins;
    return Array.isArray(plugins) ? plugins : undefined;
  } catch {
    return undefined;
  }
}

async function moveOldPlugins(
  env: NodeJS.ProcessEnv,
  old: string,
  say: (line: string) => void,
): Promise<void> {
  const dataDir = env.MESH_AGENT_DATA_DIR as string;
  const plugins = await userPluginsIn(old);
  if (!plugins || (await exists(join(dataDir, 'package.json')))) return;
  try {
    await mkdir(dataDir, { recursive: true });
    for (const name of NPM_FILES)
      if (await exists(join(old, name))) await rename(join(old, name), join(dataDir, name));
    // The links an older CLI made among npm's packages, which npm pruned at every install.
    for (const name of PROVIDED_PACKAGES) await removeLink(join(dataDir, 'node_modules', name));
    await writeFile(join(dataDir, '.npmrc'), NPMRC);
  } catch (error) {
    env.MESH_AGENT_DATA_DIR = old;
    say(
      `warn  plugins: could not move your plugins out of ${old} (${(error as Error).message}); they stay there`,
    );
    return;
  }
  const names = plugins.map((p) => (typeof p === 'string' ? p : String(p.name))).join(', ');
  say(`mesh-agent: moved your plugins (${names}) from ${old} to ${dirname(dataDir)}, out of the agent home`);
}

/**
 * Plugins installed with `mesh-agent plugins install` declare `@mesh-agent/host` and
 * `@oclif/core` as peer dependencies. Links to the running CLI's copies in the node_modules above
 * the npm root let them import those, as webpack plugins use the webpack that loads them; npm
 * manages only the npm root, so it never prunes them, and they are in place before oclif loads a
 * plugin npm has just installed. A link left by a CLI that moved is replaced. `install` also
 * writes the npm root's .npmrc.
 */
export async function provideHostToUserPlugins(config: { dataDir: string }, install = false): Promise<void> {
  for (const name of PROVIDED_PACKAGES)
    await linkProvided(join(dirname(config.dataDir), 'node_modules'), name, { replace: true });
  if (install) {
    await mkdir(config.dataDir, { recursive: true });
    await writeFile(join(config.dataDir, '.npmrc'), NPMRC);
  }
}

/**
 * A folder `plugins link` runs in place imports the host and oclif from its own node_modules or
 * one above it. Where it finds none (a plugin developed outside any mesh-agent checkout), links to
 * the running CLI's copies go into its node_modules, as `npm link` would put them, so commands and
 * hooks share one host, and stderr says so. A copy it finds is its developer's choice and stays.
 * Returns the links made.
 */
export async function provideHostToLinkedPlugin(root: string): Promise<string[]> {
  const made: string[] = [];
  for (const name of PROVIDED_PACKAGES) {
    if (await resolvableFrom(root, name)) continue;
    const link = await linkProvided(join(root, 'node_modules'), name, { replace: false });
    if (link) {
      made.push(link);
      // On stderr with --json too: it changed the user's folder.
      process.stderr.write(`mesh-agent: linked ${link} to this CLI's copy (the folder had none)\n`);
    }
  }
  return made;
}

/**
 * Whether a package is in `dir`'s node_modules or one above it, as Node would look. Not through
 * require.resolve: Node remembers a package.json it did not find, and the plugin's own import,
 * later in this process, would then miss the link made meanwhile.
 */
async function resolvableFrom(dir: string, name: string): Promise<boolean> {
  for (let at = dir; ; at = dirname(at)) {
    if (await exists(join(at, 'node_modules', name, 'package.json'))) return true;
    if (dirname(at) === at) return false;
  }
}

/**
 * Links `<nodeModules>/<name>` to the running CLI's copy of a package it provides to plugins.
 * `replace`: a link left by a CLI that moved is replaced; else only a missing one is made. Returns
 * the link's path when it made one.
 */
async function linkProvided(
  nodeModules: string,
  name: string,
  { replace }: { replace: boolean },
): Promise<string | undefined> {
  const target = dirname(createRequire(import.meta.url).resolve(`${name}/package.json`));
  const link = join(nodeModules, name);
  const current = await readlink(link).catch(() => undefined);
  if (current === target) return undefined;
  if (current !== undefined) {
    if (!replace) return undefined;
    await rm(link, { force: true });
  }
  await mkdir(dirname(link), { recursive: true });
  try {
    await symlink(target, link, 'dir');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return undefined;
  }
  return link;
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

async function removeLink(path: string): Promise<void> {
  const stat = await lstat(path).catch(() => undefined);
  if (stat?.isSymbolicLink()) await rm(path);
}
