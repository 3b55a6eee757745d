import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliProcess, runCli, TempDirs } from '../helpers/cli.js';
import { type Agent, makeAgent, type Server, startDaemon, startServer } from '../helpers/mesh.js';

/**
 * The identity attacks a review reproduced against the built CLI, replayed through it: a second
 * key taking over an agent id, and a direct-mode peer naming itself whatever it likes.
 */
describe('an agent id belongs to one key (real processes)', () => {
  const dirs = new TempDirs();
  let server: Server;
  let alice: Agent;
  let bob: Agent;

  beforeAll(async () => {
    server = await startServer(dirs);
    [alice, bob] = await Promise.all([
      makeAgent(dirs, { echo: true, env: { MESH_AGENT_ID: 'alice' } }),
      makeAgent(dirs, { echo: true, env: { MESH_AGENT_ID: 'bob' } }),
    ]);
    await Promise.all([
      startDaemon(alice, ['--server', server.url]),
      startDaemon(bob, ['--server', server.url]),
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([alice?.proc?.stop(), bob?.proc?.stop(), server?.proc.stop()]);
    await dirs.cleanup();
  });

  it('refuses a second key that claims a connected id, and sessions still reach the owner', async () => {
    const impostor = await makeAgent(dirs, { echo: true, env: { MESH_AGENT_ID: 'alice' } });
    expect(impostor.fingerprint).not.toBe(alice.fingerprint);
    const daemon = new CliProcess(
      ['run', '--listen', '127.0.0.1:0', '--json', '--server', server.url],
      impostor.env,
    );
    const code = await Promise.race([
      daemon.exited,
      new Promise((r) => setTimeout(() => r('still running'), 15_000)),
    ]);
    await daemon.stop();
    expect(code).toBe(1);
    // With --json the refusal is the last line on stdout, said once (not logged again on stderr).
    const last = JSON.parse(daemon.lines.at(-1) as string);
    expect(last.error).toMatchObject({ code: 'server_rejected' });
    expect(last.error.message).toMatch(/agent id "alice" is bound to another key/);
    expect(daemon.stderr).not.toMatch(/bound to another key/);

    const sent = await runCli(['echo', 'hello', '--to', 'alice', '--server', server.url, '--json'], bob.env);
    expect(sent.code).toBe(0);
    expect(JSON.parse(sent.stdout)).toEqual({ peer: 'alice', reply: 'hello' });
    const status = JSON.parse((await runCli(['status', '--json'], alice.env)).stdout) as {
      sessions: Array<{ peerId: string }>;
    };
    expect(status.sessions.map((s) => s.peerId)).toContain('bob');
  }, 60_000);

  it('in direct mode names the peer after its certificate, whatever id it claims', async () => {
    const receiver = await makeAgent(dirs, { echo: true });
    const sessionId = randomUUID();
    const token = randomBytes(24).toString('base64url');
    await startDaemon(receiver, ['--session-id', sessionId, '--accept-token', token, '--log-level', 'info']);
    try {
      const claimant = await makeAgent(dirs, { echo: true, env: { MESH_AGENT_ID: 'alice' } });
      const sent = await runCli(
        [
          'echo',
          'hi',
          '--peer-addr',
          `127.0.0.1:${receiver.port}`,
          '--session-id',
          sessionId,
          '--token',
          token,
          '--peer-fingerprint',
          receiver.fingerprint,
          '--json',
        ],
        claimant.env,
      );
      expect(sent.code).toBe(0);
      const derived = `agent-${claimant.fingerprint.slice(0, 12)}`;
      expect(receiver.proc!.stderr).toContain(`"peer":"${derived}"`);
      expect(receiver.proc!.stderr).not.toContain('"peer":"alice"');
    } finally {
      await receiver.proc?.stop();
    }
  }, 60_000);
});
