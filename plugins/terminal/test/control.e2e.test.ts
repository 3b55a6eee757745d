import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TempDirs } from '../../../packages/host/test/helpers/cli.js';
import { type Agent, makeAgent, type Server, startServer } from '../../../packages/host/test/helpers/mesh.js';
import { TERMINAL_RESET } from '../src/tty.js';
import { cliLine, JsonCli, TtyCli, until } from './helpers.js';

// The owner and one viewer run in real pseudo-terminals (raw mode, key sequences, resizes);
// a second viewer prints JSON lines so the test can read exactly what viewers receive.
describe('control hand-off between a TTY owner and TTY viewers', () => {
  const dirs = new TempDirs();
  let server: Server;
  let owner: Agent;
  let alice: Agent;
  let bob: Agent;
  const cleanups: Array<() => unknown> = [];

  beforeAll(async () => {
    server = await startServer(dirs);
    [owner, alice, bob] = await Promise.all([makeAgent(dirs), makeAgent(dirs), makeAgent(dirs)]);
  }, 60_000);

  afterAll(async () => {
    for (const cleanup of cleanups) await cleanup();
    await server?.proc.stop();
    await dirs.cleanup();
  });

  it('read-only until granted (prompt), then types and resizes; after a revoke it cannot; terminal restored', async () => {
    const program =
      'stty -echo; echo shared-ready; while read l; do echo "echo:$l"; ' +
      '[ "$l" = size ] && stty size; [ "$l" = bye ] && exit 5; done';
    const share = new TtyCli(
      cliLine(['share-terminal', '--server', server.url, '--command', program]),
      owner.env,
    );
    cleanups.push(() => share.kill());
    await share.waitFor('shared-ready');
    await share.waitFor(`attach-terminal ${owner.id}`);

    // Alice watches in her terminal; after the viewer exits, the shell prints the terminal modes.
    const aliceTty = new TtyCli(
      `${cliLine(['attach-terminal', owner.id, '--server', server.url])}; echo "viewer-exit=$?"; stty -a; echo modes-end`,
      alice.env,
    );
    cleanups.push(() => aliceTty.kill());
    const bobView = new JsonCli(['attach-terminal', owner.id, '--server', server.url, '--json'], bob.env);
    cleanups.push(() => bobView.kill('SIGKILL'));
    await aliceTty.waitFor('shared-ready');
    // Both say how they reached the sharer: same machine, so a direct path.
    await aliceTty.waitFor(`connected to ${owner.id} (direct path, rtt`);
    const connected = await bobView.waitFor((l) => l.event === 'connected', 'connected');
    expect(connected).toMatchObject({ sharer: owner.id, path: 'direct', rttMs: expect.any(Number) });
    await bobView.waitFor((l) => l.event === 'snapshot', 'snapshot');

    // Read-only: keys and resizes are dropped and reported to the owner.
    aliceTty.type('nope1\r');
    await share.waitFor(`${alice.id} is typing without control: its keys are dropped`);
    await aliceTty.waitFor('read-only');
    // Part of the same burst: dropped without another notice.
    aliceTty.pty.resize(100, 30);

    // Alice asks (Ctrl-] c); the owner grants with Ctrl-] y.
    aliceTty.type('\x1dc');
    await share.waitFor(`${alice.id} asks for control`);
    share.type('\x1dy');
    await aliceTty.waitFor('you have control');
    await bobView.waitFor((l) => l.event === 'control' && l.controller === alice.id, 'control event');
    aliceTty.type('size\r');
    await bobView.waitForOutput('echo:size\r\n24 80');
    aliceTty.pty.resize(90, 20);
    await bobView.waitFor((l) => l.event === 'resize' && l.cols === 90 && l.rows === 20, 'resize event');
    aliceTty.type('size\r');
    await bobView.waitForOutput('20 90');

    // The owner revokes with Ctrl-] r: Alice's keys are dropped again.
    share.type('\x1dr');
    await aliceTty.waitFor('control revoked');
    aliceTty.type('nope2\r');
    await share.waitFor(/control taken back[\s\S]*is typing without control: its keys are dropped/);
    share.type('owner-line\r');
    await bobView.waitForOutput('echo:owner-line');
    expect(bobView.output()).not.toContain('nope');
    expect(aliceTty.screen).not.toContain('echo:nope');

    // The exit code reaches the viewers; Alice's terminal is back in cooked mode with echo.
    share.type('bye\r');
    expect(await bobView.waitForEvent('exit')).toMatchObject({ code: 5 });
    await aliceTty.waitFor('viewer-exit=5');
    // stty -a prints in several writes; the marker after it says all of them arrived.
    await aliceTty.waitFor(/viewer-exit=5[\s\S]*modes-end/);
    const modes = aliceTty.screen.slice(aliceTty.screen.indexOf('viewer-exit=5'));
    expect(modes).toMatch(/(^|\s)icanon(\s|$)/m);
    expect(modes).toMatch(/(^|\s)echo(\s|$)/m);
    expect(await share.exited).toBe(5);
  }, 90_000);

  it('a viewer killed by a signal restores its terminal', async () => {
    const share = new JsonCli(
      [
        'share-terminal',
        '--json',
        '--server',
        server.url,
        '--command',
        'printf "\\033[?1049h\\033[?25l"; echo alt-screen; sleep 60',
      ],
      owner.env,
    );
    cleanups.push(() => share.kill('SIGKILL'));
    await share.waitForEvent('ready');
    const view = new TtyCli(
      // Background jobs of a non-interactive shell read /dev/null unless told otherwise.
      `${cliLine(['attach-terminal', owner.id, '--server', server.url])} </dev/tty & pid=$!; ` +
        'while ! [ -e "$HOME/go" ]; do sleep 0.05; done; kill -TERM $pid; wait $pid; echo "viewer-exit=$?"; stty -a; echo modes-end',
      alice.env,
    );
    cleanups.push(() => view.kill());
    await view.waitFor('alt-screen');
    await until(() => view.screen.includes('alt-screen') || undefined, 'viewer attached');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(`${alice.home}/go`, '');
    await view.waitFor(/viewer-exit=\d+[\s\S]*modes-end/);
    const after = view.screen.slice(view.screen.indexOf('viewer-exit='));
    expect(after).toMatch(/(^|\s)icanon(\s|$)/m);
    expect(after).toMatch(/(^|\s)echo(\s|$)/m);
    // The reset reached the terminal (tmux.e2e checks the modes it restores); the PTY turns its
    // final newline into CR LF.
    expect(view.screen).toContain(TERMINAL_RESET.trimEnd());
  }, 60_000);
});
