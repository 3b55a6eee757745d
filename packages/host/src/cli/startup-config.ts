import type { Config } from '@oclif/core';
import { type RawConfig, readConfig } from '../config/load.js';

/**
 * The config file as the CLI read it at start-up (to leave out disabled plugins), kept for the
 * command that runs next so it does not search for and parse the same file again.
 */
const readAtStartup = new WeakMap<object, { file: string | undefined; raw: RawConfig }>();

/** Reads the config for the run of `oclif` and keeps it for that run's command. */
export async function readStartupConfig(oclif: Config, file: string | undefined): Promise<RawConfig> {
  const raw = await readConfig({ file });
  readAtStartup.set(oclif, { file, raw });
  return raw;
}

/** Lends a kept config to `oclif` (when the CLI filtered plugins into a new one). */
export function keepStartupConfig(from: Config, to: Config): void {
  const kept = readAtStartup.get(from);
  if (kept) readAtStartup.set(to, kept);
}

/**
 * The config for a command of `oclif`: the start-up read once, when it was of the same file;
 * every later call (a command that writes the file, then reads it) reads it afresh.
 */
export function readCommandConfig(
  oclif: Pick<Config, 'plugins'>,
  file: string | undefined,
): Promise<RawConfig> {
  const kept = readAtStartup.get(oclif);
  readAtStartup.delete(oclif);
  return kept && kept.file === file ? Promise.resolve(kept.raw) : readConfig({ file });
}
