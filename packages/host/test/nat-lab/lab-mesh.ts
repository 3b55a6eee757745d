import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
// The file plugin's check of what arrived: BLAKE3 by a second implementation.
import { blake3Of, partBytes } from '../../../../plugins/file-transfer/test/helpers/fixtures.js';
import {
  agentEnv,
  type Cli,
  CliProcess,
  type CliResult,
  eventually,
  REPO_CLI,
  runCli,
  type TempDirs,
} from '../helpers/cli.js';
import type { Lab } from './lab.js';

export interface SendReport {
  path: 'direct' | 'relay';
  rttMs: number | null;
  files: Array<{ savedAs: string; resumedFrom: number }>;
}

/**
 * A signaling server and agents in a NAT lab, driven through the CLI as a user would: each
 * process runs in its node's namespace (`ip netns exec`).
 */
export class LabMesh {
  readonly #processes: CliProcess[] = [];
  readonly #homes = new Map<string, string>();
  readonly #daemons = new Map<string, CliProcess>();
  serverUrl = '';

  constructor(
    readonly lab: Lab,
    private readonly dirs: TempDirs,
  ) {}

  /** The repository's CLI, run inside `node`'s namespace. */
  cliIn(node: string): Cli {
    return ['ip', 'netns', 'exec', this.lab.ns(node), ...REPO_CLI];
  }

  /** A long-running CLI process in `node`'s namespace. */
  spawn(node: string, args: string[], env: NodeJS.ProcessEnv): CliProcess {
    const proc = new CliProcess(args, env, this.cliIn(node));
    this.#processes.push(proc);
    return proc;
  }

  /** `mesh-agent server` in pub (open, on the lab's server address); `extra` adds flags. */
  async startServer(extra: string[] = []): Promise<void> {
    const home = await this.dirs.make('nat-server-');
    const args = ['server', '--open', '--allow-open-network', '--host', this.lab.serverAddress];
    const server = this.spawn(
      'pub',
      [...args, '--port', '7300', '--data-dir', home, '--json', ...extra],
      agentEnv(home),
    );
    this.serverUrl = (await server.waitForJson<{ url: string }>('url', 30_000)).url;
  }

  /** A standalone `mesh-agent relay` in pub, on the lab's server address. */
  async startRelay(port: number, secretFile: string): Promise<CliProcess> {
    const args = ['relay', '--host', this.lab.serverAddress, '--port', String(port)];
    const relay = this.spawn('pub', [...args, '--secret-file', secretFile, '--json'], process.env);
    await relay.waitForJson('url', 30_000);
    return relay;
  }

  async home(name: string): Promise<string> {
    if (!this.#homes.has(name)) this.#homes.set(name, await this.dirs.make(`nat-${name}-`));
    return this.#homes.get(name)!;
  }

  async env(name: string): Promise<NodeJS.ProcessEnv> {
    return agentEnv(await this.home(name), { MESH_AGENT_ID: name });
  }

  async daemon(name: string): Promise<CliProcess> {
    const args = ['run', '--server', this.serverUrl, '--json', '--log-level', 'info'];
    const proc = this.spawn(name, args, await this.env(name));
    this.#daemons.set(name, proc);
    await proc.waitForJson('listen', 30_000);
    return proc;
  }

  daemonOf(name: string): CliProcess {
    return this.#daemons.get(name)!;
  }

  async cli(node: string, args: string[], timeoutMs = 90_000): Promise<CliResult> {
    return runCli(args, await this.env(node), { cli: this.cliIn(node), timeoutMs });
  }

  async file(name: string, mib: number): Promise<string> {
    const file = join(await this.dirs.make('nat-file-'), name);
    await writeFile(file, randomBytes(mib * 1024 * 1024));
    return file;
  }

  /** `send-file <file> --to <to>` from `from`'s namespace; `extra` adds flags. */
  send(from: string, to: string, file: string, extra: string[] = []): Promise<CliResult> {
    return this.cli(from, ['send-file', file, '--to', to, '--server', this.serverUrl, '--json', ...extra]);
  }

  /**
   * Starts a send (as `send`) and waits until `bytes` of it are in `to`'s part file, for a test to
   * change the network mid-transfer; returns the send, still running.
   */
  async sendPast(
    bytes: number,
    from: string,
    to: string,
    file: string,
    extra: string[] = [],
  ): Promise<{ sending: Promise<CliResult> }> {
    const downloads = join(await this.home(to), 'downloads');
    let ended: CliResult | undefined;
    const sending = this.send(from, to, file, extra).then((result) => {
      ended = result;
      return result;
    });
    await eventually(
      async () => {
        if (ended) throw new Error(`send-file ended too soon: ${ended.stderr.slice(-2000)}`);
        return (await partBytes(downloads)) >= bytes;
      },
      60_000,
      10,
    );
    // Wrapped: an awaited promise of a promise would wait for the send to end.
    return { sending };
  }

  /** The report of a send that succeeded, after checking the received copy's BLAKE3. */
  async verified(result: CliResult, to: string, file: string): Promise<SendReport> {
    if (result.code !== 0)
      throw new Error(
        `send-file failed (${result.code}): ${result.stdout.slice(-1000)}${result.stderr.slice(-3000)}`,
      );
    const report = JSON.parse(result.stdout) as SendReport;
    const received = join(this.#homes.get(to)!, 'downloads', report.files[0]!.savedAs);
    if ((await blake3Of(received)) !== (await blake3Of(file)))
      throw new Error(`${received} differs from ${file}`);
    return report;
  }

  async stop(): Promise<void> {
    await Promise.all(this.#processes.map((p) => p.stop()));
  }
}
