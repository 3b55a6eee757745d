import { setPath } from './tree.js';

/**
 * Environment variables that override the config file (flags override both).
 * Kept as data so `--help` and the README describe exactly what the code reads.
 */
export const CONFIG_ENV = [
  { name: 'MESH_AGENT_CONFIG', path: null, description: 'config file to use instead of searching' },
  { name: 'MESH_AGENT_HOME', path: ['agent', 'home'], description: 'agent home: identity, data, downloads' },
  { name: 'MESH_AGENT_ID', path: ['agent', 'id'], description: 'agent id' },
  {
    name: 'MESH_AGENT_SERVER',
    path: ['signaling', 'url'],
    description: 'signaling server URL (ws:// or wss://)',
  },
  {
    name: 'MESH_AGENT_TOKEN',
    path: ['signaling', 'token'],
    description: 'bearer token for the signaling server',
  },
  { name: 'MESH_AGENT_ROOM', path: ['signaling', 'room'], description: 'room to join' },
  { name: 'MESH_AGENT_QUIC_HOST', path: ['quic', 'host'], description: 'UDP address to listen on' },
  {
    name: 'MESH_AGENT_QUIC_PORT',
    path: ['quic', 'port'],
    description: 'UDP port to listen on',
    numeric: true,
  },
  { name: 'MESH_AGENT_LOG_LEVEL', path: ['log', 'level'], description: 'log level' },
  { name: 'MESH_AGENT_LOG_FORMAT', path: ['log', 'format'], description: 'log format: json or text' },
] as const;

type Tree = Record<string, unknown>;

/** The config overrides the environment carries, as a partial config tree. */
export function configFromEnv(env: NodeJS.ProcessEnv): Tree {
  const tree: Tree = {};
  for (const variable of CONFIG_ENV) {
    const raw = env[variable.name];
    if (variable.path === null || raw === undefined || raw === '') continue;
    // A non-numeric port stays a string so validation names the variable's path instead of guessing.
    const value = 'numeric' in variable && /^\d+$/.test(raw) ? Number(raw) : raw;
    setPath(tree, variable.path, value);
  }
  return tree;
}

/** Deep merge of plain objects; later layers win, arrays are replaced. */
export function mergeConfig(...layers: Tree[]): Tree {
  const out: Tree = {};
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer)) {
      if (value === undefined) continue;
      const prev = out[key];
      out[key] =
        isPlainObject(value) && isPlainObject(prev)
          ? mergeConfig(prev, value)
          : isPlainObject(value)
            ? mergeConfig(value)
            : value;
    }
  }
  return out;
}

function isPlainObject(value: unknown): value is Tree {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
