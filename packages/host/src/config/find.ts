import { readdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, extname, join, resolve } from 'node:path';

export const MODULE_NAME = 'mesh-agent';

/** Config files that are data: searched for from the working directory up to the home directory. */
export const DATA_PLACES = [
  'package.json',
  `.${MODULE_NAME}rc`,
  `.${MODULE_NAME}rc.json`,
  `.${MODULE_NAME}rc.yaml`,
  `.${MODULE_NAME}rc.yml`,
  `.${MODULE_NAME}rc.toml`,
  `${MODULE_NAME}.config.json`,
  `${MODULE_NAME}.config.yaml`,
  `${MODULE_NAME}.config.yml`,
  `${MODULE_NAME}.config.toml`,
];

/** Extensions of configs that are code: loading one runs it. */
const CODE_EXTENSIONS = ['.js', '.mjs', '.cjs', '.ts'];

/**
 * Config files that are code. The upward search never loads them: a folder someone sent may
 * carry one, and the search would run it. They load from `--config` (or MESH_AGENT_CONFIG) and
 * from the user's config directory.
 */
const CODE_PLACES = [`.${MODULE_NAME}rc`, `${MODULE_NAME}.config`].flatMap((stem) =>
  CODE_EXTENSIONS.map((ext) => stem + ext),
);

/** Names in the user's config directory (`~/.config/mesh-agent/`), code included. */
export const USER_PLACES = [
  'config',
  ...['.json', '.yaml', '.yml', '.toml', ...CODE_EXTENSIONS].map((e) => `config${e}`),
];

export interface FoundConfig {
  filepath: string;
  config: unknown;
}

export interface ConfigSearch {
  found: FoundConfig | undefined;
  /** Code configs the search passed over, for the user to hear about. */
  ignored: string[];
}

/** The user's config directory: `$XDG_CONFIG_HOME/mesh-agent`, else `~/.config/mesh-agent`. */
export function userConfigDir(env: NodeJS.ProcessEnv): string {
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), MODULE_NAME);
}

/**
 * The first data config from `cwd` up to the home directory (the root when `cwd` is outside it),
 * then the first config in the user's config directory. Code configs met on the way up, in the
 * directories up to the one the config was found in, are reported as ignored.
 */
export async function searchConfig(cwd: string, env: NodeJS.ProcessEnv): Promise<ConfigSearch> {
  const ignored: string[] = [];
  for (const dir of upwardFrom(resolve(cwd), homedir())) {
    const names = await namesIn(dir);
    for (const name of CODE_PLACES) if (names.has(name)) ignored.push(join(dir, name));
    const found = await firstConfigIn(dir, DATA_PLACES, names);
    if (found) return { found, ignored };
  }
  const userDir = userConfigDir(env);
  return { found: await firstConfigIn(userDir, USER_PLACES, await namesIn(userDir)), ignored };
}

/**
 * The names in `dir`: one listing per directory instead of a probe per place (a dozen file
 * opens per directory up to the home was most of the search, which every command pays).
 */
async function namesIn(dir: string): Promise<Set<string>> {
  try {
    return new Set(await readdir(dir));
  } catch (error) {
    // A directory we may not list (or that is gone) holds no config we could use.
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES' || code === 'EPERM') return new Set();
    throw error;
  }
}

async function firstConfigIn(
  dir: string,
  places: readonly string[],
  names: ReadonlySet<string>,
): Promise<FoundConfig | undefined> {
  for (const name of places) {
    if (!names.has(name)) continue;
    const found = await loadIfPresent(join(dir, name));
    if (found) return found;
  }
  return undefined;
}

/** Loads the config file the user named: any supported format, code included. */
export async function loadConfigFile(filepath: string): Promise<FoundConfig> {
  const content = await readFile(filepath, 'utf8');
  return { filepath, config: await parseAt(filepath, content) };
}

function* upwardFrom(start: string, stop: string): Generator<string> {
  let dir = start;
  for (;;) {
    yield dir;
    const parent = dirname(dir);
    if (dir === resolve(stop) || parent === dir) return;
    dir = parent;
  }
}

/** A non-empty config at `filepath`, or undefined (no file, an empty one, a package.json without our key). */
async function loadIfPresent(filepath: string): Promise<FoundConfig | undefined> {
  let content: string;
  try {
    content = await readFile(filepath, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
    throw error;
  }
  if (content.trim() === '') return undefined;
  const config = await parseAt(filepath, content);
  return config === undefined || config === null ? undefined : { filepath, config };
}

/** A config file that exists but cannot be parsed (or, for code, run). */
export class UnparsableConfigError extends Error {
  constructor(
    readonly filepath: string,
    message: string,
  ) {
    super(message);
    this.name = 'UnparsableConfigError';
  }
}

/** `parse`, its failure naming the file: a search may have found it far from where the user is. */
async function parseAt(filepath: string, content: string): Promise<unknown> {
  try {
    return await parse(filepath, content);
  } catch (error) {
    throw new UnparsableConfigError(filepath, (error as Error).message);
  }
}

async function parse(filepath: string, content: string): Promise<unknown> {
  const ext = extname(filepath);
  if (basename(filepath) === 'package.json')
    return (JSON.parse(content) as Record<string, unknown>)[MODULE_NAME];
  if (ext === '.toml') {
    const { parse: parseToml } = await import('smol-toml');
    return parseToml(content);
  }
  // cosmiconfig's loaders, not its search: cosmiconfig() reads (and may run) a meta config from
  // the working directory (.config/config.*) as soon as it is created.
  const { defaultLoaders } = await import('cosmiconfig');
  const loader = defaultLoaders[ext === '' ? 'noExt' : (ext as keyof typeof defaultLoaders)];
  if (!loader) throw new Error(`unsupported config format "${ext}"`);
  return loader(filepath, content);
}
