import { execFileSync } from 'node:child_process';
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, TempDirs, unwrap } from '../helpers/cli.js';
import { type Agent, agentEnvOf, ECHO_PLUGIN, makeAgent, startDaemon } from '../helpers/mesh.js';

describe('config and plugins through the CLI', () => {
  const dirs = new TempDirs();
  let agent: Agent;

  beforeAll(async () => {
    agent = await makeAgent(dirs, { echo: true });
  }, 30_000);
  const daemons: Agent[] = [];
  afterAll(async () => {
    // Also on a failed assertion: no daemon outlives the suite.
    await Promise.all(daemons.map((d) => d.proc?.stop()));
    await dirs.cleanup();
  });

  it('config validate exits 2 naming the file, each failing path and its rule', async () => {
    const file = join(agent.home, 'bad.yaml');
    await writeFile(
      file,
      'signaling:\n  url: http://example\nquic:\n  port: 70000\nlog:\n  level: loud\nbogus: 1\n',
    );
    const result = await runCli(['config', 'validate', '--config', file], agent.env);
    expect(result.code).toBe(2);
    const text = unwrap(result.stderr);
    expect(text).toContain(file);
    expect(text).toMatch(/\/signaling\/url: must start with ws:\/\/ or wss:\/\/ \[anyOf\]/);
    expect(text).toMatch(/\/quic\/port: must be <= 65535 \[maximum\]/);
    expect(text).toMatch(/\/log\/level: must be equal to one of the allowed values .*\[enum\]/);
    expect(text).toMatch(/\/: must NOT have additional properties \('bogus'\) \[additionalProperties\]/);
  });

  it('with --json, prints the error as JSON on stdout and still exits 2', async () => {
    const file = join(agent.home, 'bad.json');
    await writeFile(file, JSON.stringify({ quic: { port: -1 } }));
    const result = await runCli(['config', 'validate', '--config', file, '--json'], agent.env);
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout).error.message).toMatch(/\/quic\/port: must be >= 0 \[minimum\]/);
  });

  it('status without a running daemon says so and exits 1', async () => {
    const result = await runCli(['status'], agentEnvOf(await dirs.make('mesh-agent-')));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^error: no agent daemon runs for home .*\nhint: {2}start one with: mesh-agent run\n$/,
    );
  });

  it("validates a plugin's section against the plugin's schema", async () => {
    const file = join(agent.home, 'plugin-bad.json');
    await writeFile(file, JSON.stringify({ plugins: { echo: { prefix: 42 } } }));
    const result = await runCli(['config', 'validate', '--config', file], agent.env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/\/plugins\/echo\/prefix: must be string \[type\]/);
  });

  it('reports a file that does not parse, and one that does not exist', async () => {
    const file = join(agent.home, 'broken.toml');
    await writeFile(file, 'signaling = [\n');
    const broken = await runCli(['config', 'validate', '--config', file], agent.env);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain('cannot be parsed');
    const missing = await runCli(
      ['config', 'validate', '--config', join(agent.home, 'nope.json')],
      agent.env,
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('file not found');
  });

  it('layers defaults < file (TOML) < environment < flags, and redacts secrets', async () => {
    const file = join(agent.home, 'mesh-agent.config.toml');
    await writeFile(
      file,
      '[signaling]\nurl = "ws://file:1"\nroom = "from-file"\ntoken = "s3cret-token"\n[log]\nlevel = "warn"\n',
    );
    const env = { ...agent.env, MESH_AGENT_ROOM: 'from-env', MESH_AGENT_LOG_LEVEL: 'error' };
    const result = await runCli(['config', '--json', '--log-level', 'debug'], env, { cwd: agent.home });
    expect(result.code).toBe(0);
    const shown = JSON.parse(result.stdout) as {
      file: string;
      config: { signaling: Record<string, unknown>; log: { level: string } };
    };
    expect(shown.file).toBe(file);
    expect(shown.config.signaling).toMatchObject({
      url: 'ws://file:1',
      room: 'from-env',
      token: '[redacted]',
    });
    expect(shown.config.log.level).toBe('debug');
    expect(result.stdout).not.toContain('s3cret-token');
  });

  it("a third-party plugin's command and stream type appear, and disabling it removes both", async () => {
    const help = await runCli(['--help'], agent.env);
    expect(help.stdout).toMatch(/^\s+echo\s/m);

    daemons.push(await startDaemon(agent, []));
    const status = await runCli(['status', '--json'], agent.env);
    expect(JSON.parse(status.stdout).capabilities).toContain('echo');
    await agent.proc?.stop();

    const off = join(agent.home, 'off.yaml');
    await writeFile(off, 'plugins:\n  echo:\n    enabled: false\n');
    const env = { ...agent.env, MESH_AGENT_CONFIG: off };
    const helpOff = await runCli(['--help'], env);
    expect(helpOff.stdout).not.toMatch(/^\s+echo\s/m);
    const command = await runCli(['echo', 'hi', '--to', 'x'], env);
    expect(command.code).not.toBe(0);
    expect(unwrap(command.stderr)).toMatch(/echo hi is not a mesh-agent command/);

    const disabled = await startDaemon({ ...agent, env }, []);
    daemons.push(disabled);
    const statusOff = await runCli(['status', '--json'], env);
    expect(JSON.parse(statusOff.stdout).capabilities).not.toContain('echo');
    await disabled.proc?.stop();
  }, 60_000);

  it('installs a packed third-party plugin with `plugins install` and runs it from the data directory', async () => {
    const work = await dirs.make('mesh-pack-');
    await cp(ECHO_PLUGIN, join(work, 'echo'), { recursive: true });
    const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', work], {
      cwd: join(work, 'echo'),
    })
      .toString()
      .trim();
    const fresh = agentEnvOf(await dirs.make('mesh-agent-'));
    const install = await runCli(['plugins', 'install', `file:${join(work, tarball)}`], fresh, {
      timeoutMs: 60_000,
    });
    expect(install.code, install.stderr).toBe(0);
    expect(install.stdout).toBe('installed mesh-agent-plugin-echo 1.0.0 (command: echo)\n');
    expect(install.stderr).not.toMatch(/MODULE_NOT_FOUND/);
    const help = await runCli(['echo', '--help'], fresh);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Send text to a peer over an echo stream');
    expect(help.stderr).not.toMatch(/MODULE_NOT_FOUND/);
  }, 90_000);
});
