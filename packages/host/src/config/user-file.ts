import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { loadConfigFile, USER_PLACES, userConfigDir } from './find.js';

/** Formats `config set` can rewrite without losing data. */
const WRITERS: Record<string, (tree: Record<string, unknown>) => Promise<string>> = {
  '.toml': async (tree) => {
    const { stringify } = await import('smol-toml');
    return `${stringify(tree)}\n`;
  },
  '.json': async (tree) => `${JSON.stringify(tree, null, 2)}\n`,
};

export class UserConfigFileError extends Error {
  override name = 'UserConfigFileError';
}

/**
 * The user's config file: the one the search would read in the user's config directory, else
 * `config.toml` there (not created yet).
 */
export async function userConfigFile(env: NodeJS.ProcessEnv): Promise<{ path: string; exists: boolean }> {
  const dir = userConfigDir(env);
  for (const name of USER_PLACES) {
    const path = join(dir, name);
    const content = await readFile(path, 'utf8').catch(() => undefined);
    // The search skips empty files too: an empty one is where the next value goes.
    if (content !== undefined && content.trim() !== '') return { path, exists: true };
  }
  return { path: join(dir, 'config.toml'), exists: false };
}

/**
 * The file `config set`/`unset` edit: the one --config (or MESH_AGENT_CONFIG) names, which set
 * creates if missing, as every command would read it; else the user's config file.
 */
export async function configFileToEdit(
  env: NodeJS.ProcessEnv,
  named: string | undefined,
): Promise<{ path: string; exists: boolean }> {
  if (named === undefined) return userConfigFile(env);
  const path = resolve(named);
  const content = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw new UserConfigFileError(
      error.code === 'EISDIR'
        ? `${path} is a directory, not a config file`
        : `cannot read ${path}: ${error.message}`,
    );
  });
  return { path, exists: content !== undefined && content.trim() !== '' };
}

/**
 * Copies `path` to `path.bak` before a rewrite loses what only the text holds (comments); returns
 * the copy's path.
 */
export async function backUp(path: string): Promise<string> {
  const copy = `${path}.bak`;
  await copyFile(path, copy);
  return copy;
}

/** Refuses a user config this module cannot rewrite (YAML, code) with what to do instead. */
export function checkWritable(path: string): void {
  if (!(extname(path) in WRITERS))
    throw new UserConfigFileError(
      `${path} is ${extname(path) ? `a ${extname(path)} file` : 'an rc file'}; config set/unset rewrite only TOML and JSON: edit it by hand, or move it to config.toml`,
    );
}

/**
 * Writes `tree` to `path` atomically: a temporary file in the same directory (mode 0600, as it
 * may hold a token), flushed, then renamed over the old one.
 */
export async function writeUserConfig(path: string, tree: Record<string, unknown>): Promise<void> {
  checkWritable(path);
  const text = await (WRITERS[extname(path)] as (tree: Record<string, unknown>) => Promise<string>)(tree);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', 0o600);
  try {
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
}

/** The tree the user's config file holds; `{}` before it exists. Call checkWritable first: code is not run. */
export async function readUserConfig(file: {
  path: string;
  exists: boolean;
}): Promise<Record<string, unknown>> {
  if (!file.exists) return {};
  const { config } = await loadConfigFile(file.path);
  if (config === null || typeof config !== 'object' || Array.isArray(config))
    throw new UserConfigFileError(`${file.path} does not hold a config table`);
  return config as Record<string, unknown>;
}
