import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, TempDirs, unwrap } from '../../../packages/host/test/helpers/cli.js';
import {
  type Agent,
  makeAgent,
  type Server,
  startDaemon,
  startServer,
} from '../../../packages/host/test/helpers/mesh.js';
import { cliLine, JsonCli, TtyCli, until } from './helpers.js';

// Issue #16, what a new user meets first: real server, agents as processes, real PTYs.
describe('share-terminal and attach-terminal on first contact', () => {
  const dirs = new TempDirs();
  let server: Server;
  let owner: Agent;
  let viewer: Agent;
  const procs: JsonCli[] = [];

  beforeAll(async () => {
    server = await startServer(dirs);
    [owner, viewer] = (await Promise.all([makeAgent(dirs), makeAgent(dirs)])) as [Agent, Agent];
    // The owner's daemon runs throughout, as it would: the owner is in the room, sharing or not.
    await startDaemon(owner, ['--server', server.url]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
    await owner?.proc?.stop();
    await viewer?.proc?.stop();
    await server?.proc.stop();
    await dirs.cleanup();
  });

  const cli = (args: string[], agent: Agent) => {
    const proc = new JsonCli(args, agent.env);
    procs.push(proc);
    return proc;
  };

  const share = (args: string[]) => runCli(['share-terminal', '--server', server.url, ...args], owner.env);

  it('refuses to overwrite an existing recording, before sharing anything', async () => {
    const cast = join(owner.home, 'old.cast');
    await writeFile(cast, 'yesterday\n');
    const result = await share(['--record', cast, '--command', 'echo hi']);
    expect(result.code).toBe(2);
    const stderr = unwrap(result.stderr);
    expect(stderr).toContain(`${cast} already exists`);
    expect(stderr).toMatch(/new file name/);
    expect(stderr).not.toContain('sharing a');
    expect(await readFile(cast, 'utf8')).toBe('yesterday\n');
  });

  it('fails at once when the recording cannot be created', async () => {
    const cast = join(owner.home, 'no-such-dir', 'session.cast');
    const result = await share(['--record', cast, '--command', 'echo hi']);
    expect(result.code).toBe(2);
    const stderr = unwrap(result.stderr);
    expect(stderr).toContain(`cannot create the recording ${cast}: its directory does not exist`);
    expect(stderr).not.toContain('sharing a');
  });

  it('says an agent that runs but shares nothing is not sharing a terminal, and how its owner starts one', async () => {
    const result = await runCli(['attach-terminal', owner.id, '--server', server.url], viewer.env);
    expect(result.code).toBe(1);
    const stderr = unwrap(result.stderr);
    expect(stderr).toContain(`error: agent "${owner.id}" is online but is not sharing a terminal`);
    expect(stderr).toMatch(/hint: +its owner starts a share with: mesh-agent share-terminal/);
    expect(stderr).not.toMatch(/may be disabled|stream type/);
  });

  it('prints attach commands that work as copied, with the server that was given by flag', async () => {
    // Neither agent has a server in its config: only the flags name it.
    await startDaemon(viewer, ['--server', server.url], { human: true });
    const sharer = cli(
      [
        'share-terminal',
        '--server',
        server.url,
        '--to',
        viewer.id,
        '--command',
        'echo copied-marker; sleep 60',
      ],
      owner,
    );
    const printed = await until(
      () => /viewers run: (.+)\n/.exec(sharer.stderr)?.[1],
      `the attach command in ${sharer.stderr}`,
    );
    expect(printed).toBe(`mesh-agent attach-terminal ${owner.id} --server ${server.url}`);
    // The invited agent's daemon prints the same command.
    const invitation = await viewer.proc!.waitForLine((l) => l.includes('invites you'));
    expect(invitation).toBe(`${owner.id} invites you to a terminal: ${printed}`);
    const [, ...args] = printed.split(' ');
    const copied = cli([...args, '--json'], viewer);
    expect((await copied.waitForEvent('snapshot')).screen).toContain('copied-marker');
    expect(await sharer.kill('SIGTERM')).toBe(0);
    expect(await copied.exited).toBe(0);
  }, 60_000);

  // The server sees the sharer's socket close at once; QUIC alone would wait for its idle timeout (30 s).
  it('a viewer learns within seconds, in words, that a sharer killed with SIGKILL is gone', async () => {
    // The owner's daemon stays: the owner is still in the room, only the terminal is gone.
    const sharer = cli(
      [
        'share-terminal',
        '--json',
        '--server',
        server.url,
        '--wait-viewers',
        '1',
        '--command',
        'echo killed-marker; sleep 60',
      ],
      owner,
    );
    await sharer.waitForEvent('ready');
    const watcher = cli(['attach-terminal', owner.id, '--server', server.url, '--json'], viewer);
    await watcher.waitForOutput('killed-marker');
    const killedAt = Date.now();
    await sharer.kill('SIGKILL');
    expect(await watcher.exited).toBe(1);
    const seconds = (Date.now() - killedAt) / 1000;
    const lost = await watcher.waitForEvent('lost');
    expect(lost.message).toBe(`${owner.id}'s agent stopped answering`);
    expect(seconds, 'seconds until the viewer noticed').toBeLessThan(10);
  }, 60_000);

  // No server to see the sharer go: the viewer's keep-alives go unanswered, and the dead-peer check
  // (quic.deadPeerMs, 4 s) ends the connection; QUIC's idle timeout alone took 30 s.
  it('direct mode: a viewer learns within seconds, in words, that a sharer killed with SIGKILL is gone', async () => {
    const token = 'direct-kill-token-0123456789';
    const sharer = cli(
      [
        'share-terminal',
        '--json',
        '--listen',
        '127.0.0.1:0',
        '--session-id',
        'direct-kill',
        '--accept-token',
        token,
        '--wait-viewers',
        '1',
        '--command',
        'echo direct-marker; sleep 60',
      ],
      owner,
    );
    const port = ((await sharer.waitForEvent('ready')).listen as Array<{ port: number }>)[0]!.port;
    const direct = await makeAgent(dirs);
    const watcher = cli(
      [
        'attach-terminal',
        '--peer-addr',
        `127.0.0.1:${port}`,
        '--session-id',
        'direct-kill',
        '--token',
        token,
        '--peer-fingerprint',
        owner.fingerprint,
      ],
      direct,
    );
    // Without --json: the terminal's bytes on stdout, messages on stderr, as a person sees them.
    await watcher.waitFor((l) => String(l.text).includes('direct-marker'), 'the marker');
    const killedAt = Date.now();
    await sharer.kill('SIGKILL');
    expect(await watcher.exited).toBe(1);
    const seconds = (Date.now() - killedAt) / 1000;
    console.log(`direct mode: the viewer noticed the killed sharer after ${seconds.toFixed(1)} s`);
    expect(seconds, 'seconds until the viewer noticed').toBeLessThan(10);
    expect(watcher.stderr).toContain(`[mesh-agent] the share ended: ${owner.id}'s agent stopped answering`);
    expect(watcher.stderr).not.toMatch(/QUIC|idle timeout/);
  }, 60_000);

  it('a server restart does not end a view whose sharer still answers', async () => {
    const own = await startServer(dirs);
    // The sharer comes back to the server seconds after the viewer: meanwhile the viewer's roster
    // lacks it, and only the connection tells that it is alive.
    const slow = await makeAgent(dirs, {
      config: { signaling: { reconnectInitialMs: 6_000, reconnectMaxMs: 10_000 } },
    });
    const sharer = cli(
      [
        'share-terminal',
        '--json',
        '--server',
        own.url,
        '--wait-viewers',
        '1',
        '--command',
        'echo quiet-marker; sleep 60',
      ],
      slow,
    );
    await sharer.waitForEvent('ready');
    const watcher = cli(['attach-terminal', slow.id, '--server', own.url, '--json'], viewer);
    await watcher.waitForOutput('quiet-marker');
    await own.proc.stop();
    const again = await startServer(dirs, ['--open'], own.port);
    try {
      await new Promise((r) => setTimeout(r, 8_000));
      expect(watcher.child.exitCode, watcher.stderr).toBeNull();
      // Still connected: the owner's end of the share reaches the viewer.
      expect(await sharer.kill('SIGTERM')).toBe(0);
      expect(await watcher.waitForEvent('exit')).toMatchObject({ by: 'owner' });
      expect(await watcher.exited).toBe(0);
    } finally {
      await again.proc.stop();
    }
  }, 60_000);

  it("a read-only viewer's typing is noted once, on the owner's status line, not in the shell's screen", async () => {
    const owner2 = new TtyCli(
      cliLine([
        'share-terminal',
        '--server',
        server.url,
        '--wait-viewers',
        '1',
        '--command',
        'echo owner-marker; sleep 60',
      ]),
      owner.env,
    );
    try {
      await owner2.waitFor('viewers run:');
      const watcher = cli(['attach-terminal', owner.id, '--server', server.url, '--json'], viewer);
      await watcher.waitForOutput('owner-marker');
      await owner2.waitFor('owner-marker');
      // Typing along for 3 s: one burst.
      for (let i = 0; i < 10; i++) {
        watcher.type('x');
        await new Promise((r) => setTimeout(r, 300));
      }
      await watcher.waitFor((l) => l.event === 'notice' && l.code === 'read_only', 'read_only notice');
      const notice = `[mesh-agent] ${viewer.id} is typing without control: its keys are dropped`;
      await owner2.waitFor(notice);
      await new Promise((r) => setTimeout(r, 500));
      const mentions = owner2.screen.split(viewer.id).length - 1;
      // Joined, then the one notice: in the title (OSC 2), after the title was saved.
      expect(mentions, owner2.screen).toBe(2);
      expect(owner2.screen).toContain(`\x1b[22;2t\x1b]2;${notice}\x07`);
      expect(watcher.events('notice').filter((l) => l.code === 'read_only')).toHaveLength(1);
      owner2.type('\x1dq');
      expect(await watcher.exited).toBe(0);
      expect(await owner2.exited).toBe(0);
      // The title is restored.
      expect(owner2.screen).toContain('\x1b[23;2t');
    } finally {
      owner2.kill();
    }
  }, 60_000);
});
