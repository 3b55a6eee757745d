import { readFile } from 'node:fs/promises';
import { Flags } from '@oclif/core';

/** Longest secret file read: a token or key, not a data file named by mistake. */
const MAX_SECRET_BYTES = 64 * 1024;

/**
 * The file twin of a flag that takes a secret: `--<twin>-file <path>` reads the secret from a
 * file (surrounding whitespace and the final newline dropped), because a secret given on the
 * command line shows in `ps` and the shell's history. Its value is the secret itself.
 */
export function secretFileFlag(twin: string, what: string) {
  return Flags.custom<string>({
    summary: `File holding ${what} (instead of --${twin}, which shows in ps).`,
    helpValue: '<path>',
    exclusive: [twin],
    parse: readSecretFile,
  })();
}

/** The secret in `path`; a clear error when it is missing, empty or far too large to be one. */
export async function readSecretFile(path: string): Promise<string> {
  let content: Buffer;
  try {
    content = await readFile(path);
  } catch (error) {
    throw new Error(`cannot read the secret file ${path}: ${(error as Error).message}`);
  }
  if (content.length > MAX_SECRET_BYTES)
    throw new Error(`${path} holds ${content.length} bytes; a secret file holds at most ${MAX_SECRET_BYTES}`);
  const secret = content.toString('utf8').trim();
  if (secret === '') throw new Error(`the secret file ${path} is empty`);
  return secret;
}
