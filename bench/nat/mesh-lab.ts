/**
 * mesh-agent in the NAT lab: a signal server (STUN, built-in relay) in `pub`, a `mesh-agent run`
 * daemon in each receiving host, and one-shot `send-file --to` from any host, as in
 * packages/host/test/nat-lab/traversal.e2e.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLab, type Lab, type LabSpec } from '../../packages/host/test/nat-lab/lab.js';
import { agentEnv, agentHome, BIN, CLI_NODE_ARGS } from '../lib/mesh.js';
import { type Run, start, waitFor } from '../lib/proc.js';

const SIGNAL_PORT = 7300;
const RELAY_PORT = 7400;

/** What `send-file --json` prints. */
export interface SendReport {
  peer: string;
  path?: 'direct' | 'relay';
  rttMs?: number;
  files: Array<{ savedAs: string; size: number; hash: string; seconds: number; mbPerSecond: number }>;
}

export interface Send {
  report: SendReport;
  /** From spawning the sender to its exit, in seconds. */
  wallSeconds: number;
  /** The sender's log lines (JSON, pino), parsed. */
  log: Array<{ time: number; msg: string }>;
}

export interface MeshLabOptions {
  sites: LabSpec['sites'];
  /** Hosts that run a `mesh-agent run` daemon (the receivers). */
  daemons: string[];
  /** Scratch directory for agent homes and the server's data. */
  dir: string;
  /**
   * Per-session relay rate in bytes/s. The signal server has no flag for it, so when given the relay
   * runs as its own `mesh-agent relay --session-rate` in pub and the server hands out its URL.
   */
  relayRate?: number;
}

export class MeshLab {
  private readonly homes = new Map<string, string>();
  private readonly processes: Run[] = [];
  /** The process that forwards relayed packets: the signal server, or the separate relay. */
  relayPid = 0;
  private url = '';

  private constructor(
    readonly lab: Lab,
    private readonly dir: string,
  ) {}

  static async start(opts: MeshLabOptions): Promise<MeshLab> {
    const mesh = new MeshLab(await createLab({ sites: opts.sites }), opts.dir);
    try {
      for (const name of Object.values(opts.sites).flatMap((site) => site.hosts))
        mesh.homes.set(name, await agentHome(opts.dir, name, {}));
      await mesh.startServer(opts.relayRate);
      await Promise.all(opts.daemons.map((name) => mesh.startDaemon(name)));
    } catch (error) {
      await mesh.stop();
      throw error;
    }
    return mesh;
  }

  /** Where a daemon stores what it receives. */
  downloads(name: string): string {
    return join(this.home(name), 'downloads');
  }

  /** `send-file <file> --to <to>` from host `from`, with debug logs for the connection's milestones. */
  async send(from: string, to: string, file: string): Promise<Send> {
    const started = performance.now();
    const sender = this.spawn(from, [
      'send-file',
      file,
      '--to',
      to,
      '--server',
      this.url,
      '--json',
      '--log-level',
      'debug',
    ]);
    const code = await sender.exited;
    const wallSeconds = (performance.now() - started) / 1000;
    if (code !== 0)
      throw new Error(`send-file ${from} → ${to} failed (${code}): ${sender.stderr.slice(-3000)}`);
    return { report: JSON.parse(sender.stdout) as SendReport, wallSeconds, log: jsonLines(sender.stderr) };
  }

  async stop(): Promise<void> {
    for (const p of this.processes) p.child.kill('SIGTERM');
    await Promise.race([
      Promise.all(this.processes.map((p) => p.exited.catch(() => null))),
      new Promise((r) => setTimeout(r, 5000)),
    ]);
    await this.lab.teardown();
  }

  private async startServer(relayRate: number | undefined): Promise<void> {
    const dataDir = await agentHome(this.dir, 'signal-server', {});
    const relayFlags: string[] = [];
    if (relayRate !== undefined) {
      const secretFile = join(this.dir, 'relay.secret');
      await writeFile(secretFile, randomBytes(48).toString('base64'), { mode: 0o600 });
      const relay = this.longRunning('pub', dataDir, [
        'relay',
        '--host',
        this.lab.serverAddress,
        '--port',
        String(RELAY_PORT),
        '--secret-file',
        secretFile,
        '--session-rate',
        String(relayRate),
        '--json',
        '--log-level',
        'warn',
      ]);
      await waitFor(relay, (out) => out.includes('"url"'), 30_000);
      this.relayPid = relay.child.pid as number;
      const { url } = JSON.parse(relay.stdout) as { url: string };
      relayFlags.push('--relay-url', url, '--relay-secret-file', secretFile);
    }
    const server = this.longRunning('pub', dataDir, [
      'server',
      '--open',
      '--allow-open-network',
      '--host',
      this.lab.serverAddress,
      '--port',
      String(SIGNAL_PORT),
      '--data-dir',
      dataDir,
      ...relayFlags,
      '--json',
      '--log-level',
      'warn',
    ]);
    await waitFor(server, (out) => out.includes('"url"'), 30_000);
    this.url = (JSON.parse(server.stdout) as { url: string }).url;
    this.relayPid ||= server.child.pid as number;
  }

  private async startDaemon(name: string): Promise<void> {
    const daemon = this.spawn(name, ['run', '--server', this.url, '--json']);
    this.processes.push(daemon);
    await waitFor(daemon, (out) => out.includes('"listen"'), 30_000);
  }

  private longRunning(node: string, home: string, args: string[]): Run {
    const run = this.inLab(node, home, args, agentEnv(home));
    this.processes.push(run);
    return run;
  }

  /** The CLI as agent `name` (its own home, MESH_AGENT_ID=name) in host `name`. */
  private spawn(name: string, args: string[]): Run {
    const home = this.home(name);
    return this.inLab(name, home, args, { ...agentEnv(home), MESH_AGENT_ID: name });
  }

  private inLab(node: string, cwd: string, args: string[], env: NodeJS.ProcessEnv): Run {
    // `ip netns exec` execs the command in place: the child's pid is node's own (for /proc sampling).
    return start(
      'ip',
      ['netns', 'exec', this.lab.ns(node), process.execPath, ...CLI_NODE_ARGS, BIN, ...args],
      { env, cwd },
    );
  }

  private home(name: string): string {
    const home = this.homes.get(name);
    if (!home) throw new Error(`no host ${name} in the lab`);
    return home;
  }
}

function jsonLines(text: string): Array<{ time: number; msg: string }> {
  const out: Array<{ time: number; msg: string }> = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue; // progress lines
    try {
      out.push(JSON.parse(line) as { time: number; msg: string });
    } catch {}
  }
  return out;
}
