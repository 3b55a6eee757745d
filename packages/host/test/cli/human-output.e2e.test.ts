import { readFile } from 'node:fs/promises';
import { type AddressInfo, createServer, type Server as NetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentEnv, runCli, runCliInTty, TempDirs } from '../helpers/cli.js';
import { type Agent, makeAgent, type Server, startServer } from '../helpers/mesh.js';

/** A pino record on a line of its own. */
const JSON_LOG = /^\{"level":\d+/m;

/** A port nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe('what a person reads: logs and errors at a terminal', () => {
  const dirs = new TempDirs();
  let server: Server;
  let alice: Agent;
  /** Accepts TCP connections and never answers: a server that hangs. */
  let silent: NetServer;
  const silentSockets: Socket[] = [];

  beforeAll(async () => {
    server = await startServer(dirs);
    alice = await makeAgent(dirs, { echo: true });
    silent = createServer((socket) => silentSockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  }, 60_000);

  afterAll(async () => {
    for (const socket of silentSockets) socket.destroy();
    await new Promise((resolve) => silent?.close(resolve));
    await server?.proc.stop();
    await dirs.cleanup();
  });

  it('a one-shot command prints no logs at a terminal by default: its level is warn', async () => {
    const result = await runCliInTty(['peers', '--server', server.url], alice.env);
    expect(result.code, result.output).toBe(0);
    // No daemon runs for alice: her entry is this command's own connection, and it says so.
    expect(result.output).toMatch(/\(this agent, only this command: no daemon runs for it.*mesh-agent run\)/);
    expect(result.output).not.toMatch(JSON_LOG);
    expect(result.output).not.toContain('signaling connected');
  });

  it('logs read as lines at a terminal, as JSON with --log-format json or when stderr is not a terminal', async () => {
    const verbose = ['peers', '--server', server.url, '--log-level', 'info'];
    const readable = await runCliInTty(verbose, alice.env);
    expect(readable.code, readable.output).toBe(0);
    expect(readable.output).toMatch(
      /^info {2}signaling: signaling connected {2}agent_id=agent-\S+ {2}url=ws:/m,
    );
    expect(readable.output).not.toMatch(JSON_LOG);

    const asked = await runCliInTty([...verbose, '--log-format', 'json'], alice.env);
    expect(asked.output).toMatch(/^\{"level":30,.*"msg":"signaling connected"\}$/m);

    const logFile = join(alice.home, 'stderr.log');
    const redirected = await runCliInTty(verbose, alice.env, { stderrTo: logFile });
    expect(redirected.output).not.toMatch(JSON_LOG);
    expect(await readFile(logFile, 'utf8')).toMatch(/^\{"level":30,.*"msg":"signaling connected"\}$/m);

    const piped = await runCli(verbose, alice.env);
    expect(piped.stderr).toMatch(/^\{"level":30,.*"msg":"signaling connected"\}$/m);
    expect(piped.stdout).not.toMatch(JSON_LOG);
  });

  it('a refused server fails at once, saying how to start one', async () => {
    const port = await closedPort();
    const started = Date.now();
    const result = await runCliInTty(['peers', '--server', `ws://127.0.0.1:${port}`], alice.env);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(result.code).toBe(1);
    expect(result.output).toBe(
      `error: cannot connect to the signaling server at ws://127.0.0.1:${port}: connection refused\n` +
        `hint:  is a server running there? Start one with: mesh-agent server --port ${port} (or fix the address in --server, the config key signaling.url or MESH_AGENT_SERVER)\n`,
    );
  });

  it('an unknown host reads differently, and points at the address', async () => {
    const result = await runCliInTty(['peers', '--server', 'ws://no-such-host.invalid:7300'], alice.env);
    expect(result.code).toBe(1);
    expect(result.output).toContain(
      'error: cannot connect to the signaling server at ws://no-such-host.invalid:7300: unknown host "no-such-host.invalid"\n',
    );
    expect(result.output).toContain(
      'hint:  check the host name in --server, the config key signaling.url or MESH_AGENT_SERVER',
    );
  });

  it('a server that never answers times out with its own message', async () => {
    const url = `ws://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const result = await runCliInTty(['peers', '--server', url], alice.env, { timeoutMs: 30_000 });
    expect(result.code).toBe(1);
    expect(result.output).toContain(`error: no answer from the signaling server at ${url} within 10 s`);
    expect(result.output).toContain(
      'hint:  is a server running at that address, and does a firewall let it through?',
    );
  }, 40_000);

  it('an agent the server does not know: suggests mesh-agent peers', async () => {
    const result = await runCliInTty(['echo', 'hi', '--to', 'nobody', '--server', server.url], alice.env);
    expect(result.code).toBe(1);
    expect(result.output).toBe(
      'error: no agent "nobody" is known in your rooms\n' +
        'hint:  list the agents online with: mesh-agent peers (with the same --server and --room)\n',
    );
  });

  it('no server set: names --server, signaling.url and MESH_AGENT_SERVER', async () => {
    const result = await runCliInTty(['peers'], alice.env);
    expect(result.code).toBe(2);
    expect(result.output).toBe(
      'error: no signaling server is set, so this agent cannot list the agents of its room\n' +
        'hint:  set one (ws://host:7300) with --server, the config key signaling.url or MESH_AGENT_SERVER. ' +
        'To set it once for every command: mesh-agent config set signaling.url ws://…\n',
    );
  });

  it('a bad value names the flag or the variable it came from, not the config file', async () => {
    const flag = await runCliInTty(['peers', '--server', 'http://x'], alice.env);
    expect(flag.code).toBe(2);
    expect(flag.output).toBe('error: --server must start with ws:// or wss://\n');
    const env = await runCliInTty(['peers'], agentEnv(alice.home, { MESH_AGENT_SERVER: 'http://y' }));
    expect(env.code).toBe(2);
    expect(env.output).toBe('error: MESH_AGENT_SERVER must start with ws:// or wss://\n');
  });

  it('--json errors are {"error": {code, message, hint}} on stdout and nothing of the CLI inside', async () => {
    const port = await closedPort();
    const result = await runCli(['peers', '--server', `ws://127.0.0.1:${port}`, '--json'], alice.env);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toEqual({
      error: {
        code: 'server_refused',
        message: `cannot connect to the signaling server at ws://127.0.0.1:${port}: connection refused`,
        hint: expect.stringContaining(`mesh-agent server --port ${port}`),
      },
    });
    expect(result.stderr).toBe('');
    const usage = await runCli(['peers', '--server', 'http://x', '--json'], alice.env);
    expect(usage.code).toBe(2);
    expect(JSON.parse(usage.stdout)).toEqual({
      error: { code: 'usage', message: '--server must start with ws:// or wss://', hint: null },
    });
  });
});
