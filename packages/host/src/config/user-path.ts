import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * A path a person wrote in config: `~` and `~/…` are their home directory (no shell expanded it,
 * and a literal `~` directory under the working directory is never what they meant); anything
 * else is resolved as given.
 */
export function userPath(path: string): string {
  if (path === '~') return homedir();
  if (path.startsWith('~/')) return join(homedir(), path.slice(2));
  return resolve(path);
}
