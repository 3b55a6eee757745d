import { readFile } from 'node:fs/promises';
import type { Config } from '@oclif/core';
import { ConfigPathError, parseKeyPath, parseValue, schemaAt } from '../config/key-path.js';
import { readConfig } from '../config/load.js';
import { setPath, unsetPath } from '../config/tree.js';
import {
  backUp,
  checkWritable,
  configFileToEdit,
  readUserConfig,
  UserConfigFileError,
  writeUserConfig,
} from '../config/user-file.js';
import { checkAgentConfig, installedPluginSchemas } from './agent-config.js';
import { UsageError } from './errors.js';

export interface UserConfigEdit {
  /** The config file written: --config's, else the user's. */
  file: string;
  path: string[];
  /** What the file holds at `path` now (undefined after unset). */
  value: unknown;
  /** Whether unset found something to remove (always true for set). */
  changed: boolean;
  warnings: string[];
}

/**
 * Sets (`text` given) or removes the value at the dotted `key` in the user's config file, or in
 * the file --config names (`configFlag`). The
 * value is read as the schema's type; the whole file, checked against the host's schema and the
 * schemas of the plugins it enables, must stay valid or nothing is written.
 */
export async function editUserConfig(
  oclif: Pick<Config, 'plugins'>,
  opts: { env: NodeJS.ProcessEnv; configFlag?: string | undefined },
  key: string,
  text?: string,
): Promise<UserConfigEdit> {
  const { env } = opts;
  try {
    const warnings: string[] = [];
    const path = parseKeyPath(key);
    const schema = schemaAt(path, await installedPluginSchemas(oclif, warnings));
    const file = await configFileToEdit(env, opts.configFlag);
    checkWritable(file.path);
    const tree = await readUserConfig(file);
    let value: unknown;
    let changed = true;
    if (text === undefined) changed = unsetPath(tree, path);
    else {
      value = parseValue(schema, text, key);
      setPath(tree, path, value);
    }
    if (changed) {
      const dropsComments = file.exists && (await hasComments(file.path));
      // Named so the error says the file was left alone.
      await checkAgentConfig(
        oclif,
        { filepath: `${file.path}, not written`, tree, warnings: [] },
        { plugins: 'schemas' },
      );
      // The comments exist only in the text: keep a copy of it before rewriting from the values.
      const copy = dropsComments ? await backUp(file.path) : undefined;
      await writeUserConfig(file.path, tree);
      if (copy)
        warnings.push(
          `the comments in ${file.path} were not kept (config set/unset rewrite the file from its values); the file as it was is in ${copy}`,
        );
    }
    return {
      file: file.path,
      path,
      value,
      changed,
      warnings: [...warnings, ...(await shadowing(file.path, opts))],
    };
  } catch (error) {
    if (error instanceof ConfigPathError || error instanceof UserConfigFileError)
      throw new UsageError(error.message);
    throw error;
  }
}

/** A warning when the config search reads another file than the user's (only one file is read). */
async function shadowing(
  userFile: string,
  opts: { env: NodeJS.ProcessEnv; configFlag?: string | undefined },
): Promise<string[]> {
  const effective = await readConfig({ env: opts.env, file: opts.configFlag });
  return effective.filepath === userFile
    ? []
    : [
        `${effective.filepath} is read instead of ${userFile} here: the change applies where no other config file is found`,
      ];
}

/** Whether a TOML file has comment lines (JSON has none); rewriting it from its values drops them. */
async function hasComments(path: string): Promise<boolean> {
  return /^\s*#/m.test(await readFile(path, 'utf8'));
}
