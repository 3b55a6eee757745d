import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runCli, TempDirs } from '../../../packages/host/test/helpers/cli.js';
import {
  type Agent,
  makeAgent,
  type Server,
  startDaemon,
  startServer,
} from '../../../packages/host/test/helpers/mesh.js';
import { JsonCli } from './helpers.js';

// Real processes: a signaling server, a sharer and viewers as CLI processes, QUIC between them.
describe('share-terminal / attach-terminal between real processes', () => {
  const dirs = new TempDirs();
  let server: Server;
  let owner: Agent;
  let viewers: Agent[];
  const procs: JsonCli[] = [];

  const attach = (viewer: Agent, extra: string[] = []) => {
    const proc = new JsonCli(
      ['attach-terminal', owner.id, '--server', server.url, '--json', ...extra],
      viewer.env,
    );
    procs.push(proc);
    return proc;
  };

  /** A direct-mode share (no server) that `viewer` may join with `token`; resolves once listening. */
  const shareDirect = async (viewer: Agent, session: string, token: string, command: string) => {
    const share = new JsonCli(
      [
        'share-terminal',
        '--json',
        '--listen',
        '127.0.0.1:0',
        '--session-id',
        session,
        '--accept-token',
        token,
        '--accept-fingerprint',
        viewer.fingerprint,
        '--wait-viewers',
        '1',
        '--command',
        command,
      ],
      owner.env,
    );
    procs.push(share);
    const ready = await share.waitForEvent('ready');
    const port = (ready.listen as Array<{ port: number }>)[0]!.port;
    // attach-terminal's arguments for dialing it.
    const dial = [
      '--peer-addr',
      `127.0.0.1:${port}`,
      '--session-id',
      session,
      '--token',
      token,
      '--peer-fingerprint',
      owner.fingerprint,
    ];
    return { share, dial };
  };

  beforeAll(async () => {
    server = await startServer(dirs);
    const agents = await Promise.all([0, 1, 2, 3].map(() => makeAgent(dirs)));
    owner = agents[0]!;
    viewers = agents.slice(1);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
    await Promise.all(viewers.map((v) => v.proc?.stop()));
    await server?.proc.stop();
    await dirs.cleanup();
  });

  it('streams to two viewers, survives a killed viewer, gives a late joiner the screen, drops input without control, and reports the exit code', async () => {
    const [v1, v2, v3] = viewers as [Agent, Agent, Agent];
    const cast = join(owner.home, 'session.cast');
    const share = new JsonCli(
      [
        'share-terminal',
        '--json',
        '--server',
        server.url,
        '--cols',
        '80',
        '--rows',
        '12',
        '--allow-control',
        v1.id,
        '--wait-viewers',
        '2',
        '--record',
        cast,
        '--command',
        'stty -echo; echo first-marker; while read l; do echo "echo:$l"; [ "$l" = quit ] && exit 7; done',
      ],
      owner.env,
    );
    procs.push(share);
    await share.waitForEvent('ready');
    const a = attach(v1);
    const b = attach(v2);
    // Both see the program's output from the start (it waited for them).
    await a.waitForOutput('first-marker');
    await b.waitForOutput('first-marker');
    expect((await a.waitForEvent('snapshot')).controller).toBe(v1.id);

    // A killed viewer does not disturb the session (QUIC notices it only at its idle timeout).
    await b.kill('SIGKILL');
    a.type('one\r');
    await a.waitForOutput('echo:one');

    // A late joiner first gets the current screen.
    const c = attach(v3);
    const snapshot = await c.waitForEvent('snapshot');
    expect(snapshot.screen).toContain('first-marker');
    expect(snapshot.screen).toContain('echo:one');
    expect(snapshot.controller).toBe(v1.id);

    // Without control its keys never reach the program; the owner and the viewer are told.
    c.type('sneaky\r');
    await share.waitFor((l) => l.event === 'input_dropped' && l.viewer === v3.id, 'input_dropped');
    await c.waitFor((l) => l.event === 'notice' && l.code === 'read_only', 'read_only notice');
    a.type('two\r');
    await c.waitForOutput('echo:two');
    expect(a.output()).not.toContain('sneaky');
    expect(c.output()).not.toContain('sneaky');

    // The program's exit code reaches every viewer (and becomes their exit code, like ssh).
    a.type('quit\r');
    for (const viewer of [a, c]) {
      expect(await viewer.waitForEvent('exit')).toMatchObject({ code: 7, signal: null, by: 'program' });
      expect(await viewer.exited).toBe(7);
    }
    expect(await share.exited).toBe(7);
    expect(share.events('ended')).toEqual([{ event: 'ended', code: 7, signal: null, by: 'program' }]);

    // The recording is asciicast v2.
    const lines = (await readFile(cast, 'utf8')).trim().split('\n');
    expect(JSON.parse(lines[0]!)).toMatchObject({ version: 2, width: 80, height: 12 });
    const events = lines.slice(1).map((l) => JSON.parse(l) as [number, string, string]);
    expect(events.every(([t, code]) => typeof t === 'number' && code === 'o')).toBe(true);
    const recorded = events.map(([, , data]) => data).join('');
    expect(recorded).toContain('first-marker');
    expect(recorded).toContain('echo:two');
    expect(recorded).not.toContain('sneaky');
  }, 60_000);

  it('--to invites an agent through its daemon and refuses agents that were not invited', async () => {
    const [v1, v2] = viewers as [Agent, Agent];
    await startDaemon(v1, ['--server', server.url]);
    const share = new JsonCli(
      [
        'share-terminal',
        '--json',
        '--server',
        server.url,
        '--to',
        v1.id,
        '--command',
        'echo invited-only; sleep 30',
      ],
      owner.env,
    );
    procs.push(share);
    await share.waitForEvent('ready');
    // The daemon (run --json) reports the invitation as a record on stdout.
    expect(await v1.proc!.waitForJson('from')).toEqual({ event: 'terminal.invited', from: owner.id });

    const intruder = attach(v2);
    expect(await intruder.exited).toBe(1);
    expect(intruder.events('refused')).toHaveLength(1);
    expect(intruder.output()).toBe('');
    await share.waitFor((l) => l.event === 'viewer_refused' && l.viewer === v2.id, 'viewer_refused');

    const guest = attach(v1);
    expect((await guest.waitForEvent('snapshot')).screen).toContain('invited-only');
    // SIGTERM ends the share on purpose: the program gets a hang-up, yet both sides exit 0.
    expect(await share.kill('SIGTERM')).toBe(0);
    expect(await guest.waitForEvent('exit')).toMatchObject({ code: null, signal: 1, by: 'owner' });
    expect(await guest.exited).toBe(0);
  }, 60_000);

  it('refuses to share what no viewer could reach: no server and no direct mode, or a server that is down', async () => {
    const alone = await runCli(['share-terminal', '--command', 'true'], owner.env);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toContain(
      'error: no signaling server is set, so this agent cannot let other agents watch this terminal',
    );
    expect(alone.stderr).toContain('or share in direct mode: --session-id with --accept-token-file');
    // Nothing listens on port 1: the share fails at once instead of inviting viewers to nowhere.
    const down = await runCli(
      ['share-terminal', '--command', 'true', '--server', 'ws://127.0.0.1:1'],
      owner.env,
    );
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(
      'cannot connect to the signaling server at ws://127.0.0.1:1: connection refused',
    );
    expect(down.stderr).toMatch(/^hint: /m);
    expect(down.stdout).not.toContain('attach-terminal');
    // With its own --json (events as JSON lines), the error is a JSON line too.
    for (const command of ['share-terminal', 'attach-terminal']) {
      const args = command === 'attach-terminal' ? [command, owner.id] : [command, '--command', 'true'];
      const json = await runCli([...args, '--server', 'ws://127.0.0.1:1', '--json'], owner.env);
      expect(json.code, command).toBe(1);
      expect(JSON.parse(json.stdout), command).toEqual({
        error: {
          code: 'server_refused',
          message: expect.stringContaining('connection refused'),
          hint: expect.any(String),
        },
      });
    }
  });

  it('direct mode: a viewer dials the sharer with a session token, no server involved', async () => {
    const [v1] = viewers as [Agent];
    const { share, dial } = await shareDirect(
      v1,
      'direct-1',
      'direct-mode-token-0123456789',
      'echo direct-hello; exit 0',
    );
    const viewer = new JsonCli(['attach-terminal', '--json', ...dial], v1.env);
    procs.push(viewer);
    await viewer.waitForOutput('direct-hello');
    expect(await viewer.exited).toBe(0);
    expect(await share.exited).toBe(0);
  }, 30_000);

  it('a viewer whose stdout is a pipe gets megabytes of varied output byte for byte', async () => {
    const [, v2] = viewers as [Agent, Agent];
    const lines = 300_000;
    const { share, dial } = await shareDirect(
      v2,
      'raw-1',
      'raw-viewer-token-0123456789',
      `sleep 0.5; seq 1 ${lines}; exit 0`,
    );
    // Raw bytes on stdout, checked byte for byte.
    const viewer = spawn(process.execPath, [BIN, 'attach-terminal', ...dial], {
      env: v2.env,
      cwd: v2.env.HOME,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    viewer.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    // Not read for a while once output flows: the viewer blocks on a full pipe while frames keep
    // arriving.
    viewer.stdout.once('data', () => {
      viewer.stdout.pause();
      setTimeout(() => viewer.stdout.resume(), 1000);
    });
    try {
      expect(await new Promise((resolve) => viewer.on('close', resolve))).toBe(0);
    } finally {
      viewer.kill('SIGKILL');
    }
    // The PTY turns each newline into CR LF; before the output comes the blank screen's snapshot.
    const expected = Array.from({ length: lines }, (_, i) => `${i + 1}\r\n`).join('');
    const got = Buffer.concat(chunks).toString('latin1');
    const start = got.indexOf('1\r\n2\r\n3\r\n');
    expect(start).toBeGreaterThanOrEqual(0);
    const received = got.slice(start, start + expected.length);
    let differs = 0;
    while (differs < expected.length && received[differs] === expected[differs]) differs++;
    expect(
      differs,
      `first difference at ${differs}: ${JSON.stringify(received.slice(differs, differs + 40))}`,
    ).toBe(expected.length);
    expect(await share.exited).toBe(0);
  }, 60_000);
});
