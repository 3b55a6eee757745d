import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, runCli, runCliInTty, TempDirs } from '../helpers/cli.js';
import { type Agent, makeAgent, peersOf, type Server, startDaemon, startServer } from '../helpers/mesh.js';

describe('control plane between real processes', () => {
  const dirs = new TempDirs();
  let server: Server;
  let alice: Agent;
  let bob: Agent;

  beforeAll(async () => {
    server = await startServer(dirs);
    [alice, bob] = await Promise.all([makeAgent(dirs, { echo: true }), makeAgent(dirs, { echo: true })]);
    await Promise.all([
      startDaemon(alice, ['--server', server.url]),
      startDaemon(bob, ['--server', server.url]),
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([alice?.proc?.stop(), bob?.proc?.stop(), server?.proc.stop()]);
    await dirs.cleanup();
  });

  it('lists both daemons as peers, with their stream types and fingerprints', async () => {
    const viewer = await makeAgent(dirs);
    const result = await runCli(['peers', '--server', server.url, '--json'], viewer.env);
    expect(result.code).toBe(0);
    const { members } = JSON.parse(result.stdout) as {
      members: Array<{ agent_id: string; capabilities: string[]; fingerprint: string }>;
    };
    const byId = new Map(members.map((m) => [m.agent_id, m]));
    expect(byId.get(alice.id)).toMatchObject({
      capabilities: expect.arrayContaining(['echo']),
      fingerprint: alice.fingerprint,
    });
    expect(byId.get(bob.id)).toMatchObject({
      capabilities: expect.arrayContaining(['echo']),
      fingerprint: bob.fingerprint,
    });
  });

  it('brokers a session: both sides get the same session, the stream works, status never shows the token', async () => {
    const result = await runCli(
      ['echo', 'ping', '--to', bob.id, '--server', server.url, '--json'],
      alice.env,
    );
    expect(result.stderr).not.toMatch(/"level":50/);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ peer: bob.id, reply: 'ping' });

    const status = await runCli(['status', '--json'], bob.env);
    expect(status.code).toBe(0);
    const bobStatus = JSON.parse(status.stdout) as {
      signaling: { state: string };
      sessions: Array<{ sessionId: string; peerId: string; role: string; ttlMs: number; used: boolean }>;
      udp: { path: string; whyNotGso: string | null };
    };
    expect(bobStatus.signaling.state).toBe('connected');
    // Batched UDP where the addon builds (Linux); the status says which path and why not GSO.
    if (process.platform === 'linux') expect(bobStatus.udp.path).toMatch(/^(gso|sendmmsg)$/);
    expect((await runCli(['status'], bob.env)).stdout).toMatch(/^udp io {7}(gso|sendmmsg|dgram)/m);
    const session = bobStatus.sessions.find((s) => s.peerId === alice.id);
    expect(session).toMatchObject({ role: 'responder', used: true });
    expect(session!.ttlMs).toBeGreaterThan(0);
    expect(status.stdout).not.toMatch(/token/i);
  });

  it('both agents reconnect and reappear within 10 s after the server restarts', async () => {
    await server.proc.stop();
    server = await startServer(dirs, ['--open'], server.port);
    const viewer = await makeAgent(dirs);
    const started = Date.now();
    await eventually(async () => {
      const ids = await peersOf(server.url, viewer.env);
      return ids.includes(alice.id) && ids.includes(bob.id);
    }, 10_000);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('a signaling server that requires tokens', () => {
  const dirs = new TempDirs();
  let server: Server;

  beforeAll(async () => {
    server = await startServer(dirs, ['--token', 'good-token-0123456789']);
  });
  afterAll(async () => {
    await server?.proc.stop();
    await dirs.cleanup();
  });

  it('refuses an agent with a wrong or missing token, with a clear message and a non-zero exit', async () => {
    const agent = await makeAgent(dirs);
    for (const env of [{ ...agent.env, MESH_AGENT_TOKEN: 'bad-token-0123456789' }, agent.env]) {
      const peers = await runCli(['peers', '--server', server.url], env);
      expect(peers.code).toBe(1);
      expect(peers.stderr).toMatch(/authentication failed|token/i);
      expect(peers.stderr).not.toContain('bad-token-0123456789');
    }
    const daemon = await runCli(['run', '--server', server.url, '--listen', '127.0.0.1:0'], {
      ...agent.env,
      MESH_AGENT_TOKEN: 'bad-token-0123456789',
    });
    expect(daemon.code).toBe(1);
    expect(daemon.stderr).toMatch(/the signaling server refused this agent: authentication failed/);
  });

  /** The one thing a refused agent prints: the error and its hint. */
  const refusal = (agent: Agent, why = `invalid token for agent "${agent.id}"`) =>
    `error: the signaling server refused this agent: authentication failed: ${why}\n` +
    'hint:  check signaling.token (MESH_AGENT_TOKEN) and the agent id this server expects\n';
  /** How often the server refused someone: once per attempt (it logs each). */
  const refusals = () => server.proc.stderr.match(/"code":"unauthorized"/g)?.length ?? 0;

  it('says a refusal once, in words, at a terminal and piped, and does not retry', async () => {
    const agent = await makeAgent(dirs);
    const bad = { ...agent.env, MESH_AGENT_TOKEN: 'bad-token-0123456789' };
    const file = join(agent.home, 'hello.txt');
    await writeFile(file, 'hello');
    for (const args of [
      ['peers', '--server', server.url],
      ['send-file', file, '--to', 'agent-nobody', '--server', server.url],
    ]) {
      const before = refusals();
      const tty = await runCliInTty(args, bad);
      expect(tty.code).toBe(1);
      expect(tty.output).toBe(refusal(agent));
      const piped = await runCli(args, bad);
      expect(piped.code).toBe(1);
      expect(piped.stdout).toBe('');
      expect(piped.stderr).toBe(refusal(agent));
      const missing = await runCliInTty(args, agent.env);
      expect(missing.output).toBe(refusal(agent, 'a bearer token is required'));
      await eventually(async () => refusals() >= before + 3);
      // Give a retry time to show up: there must be none.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(refusals()).toBe(before + 3);
    }
  });

  it('a refused daemon fails at start: no ready banner, the same one message', async () => {
    const agent = await makeAgent(dirs);
    const bad = { ...agent.env, MESH_AGENT_TOKEN: 'bad-token-0123456789' };
    const args = ['run', '--server', server.url, '--listen', '127.0.0.1:0'];
    const tty = await runCliInTty(args, bad);
    expect(tty.code).toBe(1);
    expect(tty.output).toBe(refusal(agent));
    const json = await runCli([...args, '--json'], bad);
    expect(json.code).toBe(1);
    expect(json.stderr).toBe('');
    expect(JSON.parse(json.stdout)).toEqual({
      error: expect.objectContaining({ code: 'server_rejected' }),
    });
  });

  it('a daemon refused later (its token revoked) stops with the same one message', async () => {
    const own = await startServer(dirs, ['--token', 'first-token-0123456789']);
    const agent = await makeAgent(dirs, { env: { MESH_AGENT_TOKEN: 'first-token-0123456789' } });
    try {
      await startDaemon(agent, ['--server', own.url], { human: true });
      await own.proc.stop();
      const renewed = await startServer(dirs, ['--token', 'other-token-0123456789'], own.port);
      try {
        expect(await agent.proc!.exited).toBe(1);
        // The daemon logs at info (as JSON: stderr is a pipe); the refusal is said once, at the end.
        expect(agent.proc!.stderr.endsWith(refusal(agent)), agent.proc!.stderr).toBe(true);
        expect(agent.proc!.stderr.match(/authentication failed/g)).toHaveLength(1);
      } finally {
        await renewed.proc.stop();
      }
    } finally {
      await Promise.all([agent.proc?.stop(), own.proc.stop()]);
    }
  }, 30_000);

  it('accepts an agent with the right token', async () => {
    const agent = await makeAgent(dirs);
    const peers = await runCli(['peers', '--server', server.url, '--json'], {
      ...agent.env,
      MESH_AGENT_TOKEN: 'good-token-0123456789',
    });
    expect(peers.code).toBe(0);
    expect(JSON.parse(peers.stdout).members.map((m: { agent_id: string }) => m.agent_id)).toContain(agent.id);
  });
});
