import { CONFIG_ENV } from '../config/env.js';
import type { ConfigError, ConfigIssue } from '../config/errors.js';
import { MeshError, UsageError } from './errors.js';

/** The flag that sets each config path (MeshCommand's global flags, signalingFlags, `run --listen`). */
const FLAG_OF_PATH: ReadonlyArray<readonly [path: string, flag: string]> = [
  ['/signaling/url', '--server'],
  ['/signaling/room', '--room'],
  ['/agent/home', '--home'],
  ['/log/level', '--log-level'],
  ['/log/format', '--log-format'],
  ['/quic/host', '--listen'],
  ['/quic/port', '--listen'],
];

/**
 * A config error as the user caused it: a bad value from a flag names the flag (`--server must
 * start with ws:// or wss://`), one from the environment names the variable; only what the config
 * file holds stays a ConfigError that names the file. `flagTree` is the partial config the
 * command's flags built.
 */
export function blameSetting(error: ConfigError, flagTree: object, env: NodeJS.ProcessEnv): Error {
  for (const issue of error.issues) {
    const flag = FLAG_OF_PATH.find(([path]) => within(issue.path, path))?.[1];
    if (flag && valueAt(flagTree, issue.path) !== undefined) return new UsageError(said(flag, issue));
    const variable = CONFIG_ENV.find((v) => v.path !== null && within(issue.path, `/${v.path.join('/')}`));
    if (variable && env[variable.name])
      return new MeshError('config_invalid', said(variable.name, issue), undefined, 2);
  }
  return error;
}

function said(setting: string, issue: ConfigIssue): string {
  return `${setting} ${issue.message}`;
}

/** Whether `path` is `parent` or below it (`/signaling/url/1` is within `/signaling/url`). */
function within(path: string, parent: string): boolean {
  return path === parent || path.startsWith(`${parent}/`);
}

function valueAt(tree: object, pointer: string): unknown {
  let node: unknown = tree;
  for (const key of pointer.split('/').slice(1)) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}
