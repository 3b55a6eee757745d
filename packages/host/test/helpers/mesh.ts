import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { agentEnv, type Cli, CliProcess, REPO_CLI, runCli, type TempDirs } from './cli.js';

export const ECHO_PLUGIN = resolve(import.meta.dirname, '../fixtures/echo-plugin');

export interface Server {
  proc: CliProcess;
  url: string;
  port: number;
}

/** `mesh-agent server` on a loopback port (0: any free one). */
export async function startServer(
  dirs: TempDirs,
  args: string[] = ['--open'],
  port = 0,
  cli: Cli = REPO_CLI,
): Promise<Server> {
  const home = await dirs.make('mesh-server-');
  const proc = new CliProcess(['server', '--port', String(port), '--json', ...args], agentEnv(home), cli);
  const info = await proc.waitForJson<{ url: string; port: number }>('url');
  return { proc, url: info.url, port: info.port };
}

/** The environment of a fresh agent home (no identity yet). */
export const agentEnvOf = (home: string) => agentEnv(home);

export interface Agent {
  home: string;
  env: NodeJS.ProcessEnv;
  proc?: CliProcess;
  id: string;
  fingerprint: string;
  /** QUIC port once the daemon runs. */
  port?: number;
  /** The mesh-agent that runs its commands (default: the repository's). */
  cli?: Cli;
}

export interface AgentOptions {
  /** Link the echo fixture plugin. */
  echo?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Written to `<home>/mesh-agent.config.json`, which the CLI finds from the home (its cwd in tests). */
  config?: object;
  /** Prefix of the home directory's name. */
  prefix?: string;
  /** The mesh-agent that runs its commands (default: the repository's). */
  cli?: Cli;
  /**
   * Runs the agent's commands without root's power to read any file (tests run as root): a file
   * of NOBODY's with mode 0600 is then unreadable to it. See canDropPrivilege.
   */
  unprivileged?: boolean;
}

/** `nobody`: the owner of files an unprivileged agent may not read (see AgentOptions.unprivileged). */
export const NOBODY = 65534;

/** `cli` without root's power to read any file, so permissions bind it as they bind a user. */
export function unprivileged(cli: Cli = REPO_CLI): Cli {
  return ['setpriv', '--bounding-set=-dac_override,-dac_read_search', ...cli];
}

/** Whether tests can run the CLI unprivileged: as root, with setpriv (util-linux). */
export function canDropPrivilege(): boolean {
  if (process.getuid?.() !== 0) return false;
  const [command, ...args] = unprivileged([process.execPath, '-e', '']);
  return spawnSync(command, args, { stdio: 'ignore' }).status === 0;
}

/** An agent home with its identity created, and optionally a config file and the echo fixture plugin. */
export async function makeAgent(dirs: TempDirs, opts: AgentOptions = {}): Promise<Agent> {
  const home = await dirs.make(opts.prefix ?? 'mesh-agent-');
  if (opts.config) await writeFile(join(home, 'mesh-agent.config.json'), JSON.stringify(opts.config));
  const env = agentEnv(home, opts.env);
  const cli = opts.unprivileged ? unprivileged(opts.cli) : (opts.cli ?? REPO_CLI);
  if (opts.echo) {
    const linked = await runCli(['plugins', 'link', ECHO_PLUGIN, '--no-install'], env, { cli });
    if (linked.code !== 0) throw new Error(`plugins link failed: ${linked.stderr}`);
  }
  const identity = await runCli(['identity', '--json'], env, { cli });
  if (identity.code !== 0) throw new Error(`identity failed: ${identity.stderr}`);
  const { agentId, fingerprint } = JSON.parse(identity.stdout) as { agentId: string; fingerprint: string };
  return { home, env, id: agentId, fingerprint, cli };
}

/**
 * Starts `mesh-agent run` for the agent and waits until it is ready. `human`: without --json, so
 * stdout carries the lines a person reads (and the QUIC port is not read).
 */
export async function startDaemon(
  agent: Agent,
  args: string[],
  opts: { human?: boolean } = {},
): Promise<Agent> {
  const output = opts.human ? [] : ['--json'];
  agent.proc = new CliProcess(['run', '--listen', '127.0.0.1:0', ...output, ...args], agent.env, agent.cli);
  if (opts.human) {
    await agent.proc.waitForLine((line) => line === `agent ${agent.id} running`);
    return agent;
  }
  const ready = await agent.proc.waitForJson<{ listen: Array<{ port: number }> }>('listen');
  agent.port = ready.listen[0]?.port;
  return agent;
}

export async function peersOf(serverUrl: string, env: NodeJS.ProcessEnv, cli?: Cli): Promise<string[]> {
  const result = await runCli(['peers', '--server', serverUrl, '--json'], env, { cli });
  if (result.code !== 0) throw new Error(`peers failed: ${result.stderr}`);
  return (JSON.parse(result.stdout) as { members: Array<{ agent_id: string }> }).members.map(
    (m) => m.agent_id,
  );
}
