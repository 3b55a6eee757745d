import { type RawConfig, readConfig } from '../config/load.js';

/**
 * The config file as the CLI read it at start-up (to leave out disabled plugins), kept for the
 * command this process runs, so it does not search for and parse the same file again. One per
 * process: oclif rebuilds its Config object before running the command, so nothing else is shared.
 */
let readAtStartup: { file: string | undefined; raw: RawConfig } | undefined;

/** Reads the config at start-up and keeps it for the command. */
export async function readStartupConfig(file: string | undefined): Promise<RawConfig> {
  const raw = await readConfig({ file });
  readAtStartup = { file, raw };
  return raw;
}

/**
 * The config for the command: the start-up read once, when it was of the same file; every later
 * call (a command that writes the file, then reads it) reads it afresh.
 */
export function readCommandConfig(file: string | undefined): Promise<RawConfig> {
  const kept = readAtStartup;
  readAtStartup = undefined;
  return kept && kept.file === file ? Promise.resolve(kept.raw) : readConfig({ file });
}
