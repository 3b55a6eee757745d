import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentEnv, BIN, TempDirs } from '../../../packages/host/test/helpers/cli.js';
import { type Agent, makeAgent, type Server, startServer } from '../../../packages/host/test/helpers/mesh.js';
import { JsonCli, until } from './helpers.js';

const BYTES = 20_000_000;

// One viewer is frozen (SIGSTOP) while the program floods its terminal: the owner and the other
// viewer must not notice, and the frozen one is resynchronised or dropped, never waited for.
describe('a stalled viewer', () => {
  const dirs = new TempDirs();
  let server: Server;
  let owner: Agent;
  let fast: Agent;
  let frozen: Agent;
  const kills: Array<() => void> = [];

  beforeAll(async () => {
    server = await startServer(dirs);
    [owner, fast, frozen] = await Promise.all([makeAgent(dirs), makeAgent(dirs), makeAgent(dirs)]);
  }, 60_000);

  afterAll(async () => {
    for (const kill of kills) kill();
    await server?.proc.stop();
    await dirs.cleanup();
  });

  it('never blocks the shell or the other viewers', async () => {
    const share = new JsonCli(
      [
        'share-terminal',
        '--json',
        '--server',
        server.url,
        '--wait-viewers',
        '2',
        '--command',
        `sleep 1; head -c ${BYTES} /dev/zero | tr '\\0' a; echo; echo done-marker`,
      ],
      owner.env,
    );
    kills.push(() => share.child.kill('SIGKILL'));
    await share.waitForEvent('ready');

    const stalled = new JsonCli(['attach-terminal', owner.id, '--server', server.url, '--json'], frozen.env);
    kills.push(() => {
      stalled.child.kill('SIGCONT');
      stalled.child.kill('SIGKILL');
    });
    await stalled.waitForEvent('snapshot');
    stalled.child.kill('SIGSTOP');

    // The fast viewer prints raw output; count the bytes as they come.
    const viewer = spawn(process.execPath, [BIN, 'attach-terminal', owner.id, '--server', server.url], {
      env: agentEnv(fast.home),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    kills.push(() => viewer.kill('SIGKILL'));
    let received = 0;
    let tail = '';
    let stderr = '';
    viewer.stdout.on('data', (d: Buffer) => {
      received += d.length;
      tail = (tail + d.toString('latin1')).slice(-100);
    });
    viewer.stderr.on('data', (d) => {
      stderr += d;
    });
    const viewerExit = new Promise<number | null>((r) => viewer.on('close', r));

    // The program runs to its end while one viewer reads nothing at all.
    expect(await share.waitForEvent('ended', 60_000)).toMatchObject({ code: 0 });
    expect(await viewerExit).toBe(0);
    expect(tail).toContain('done-marker');
    if (!stderr.includes('fell behind')) expect(received).toBeGreaterThanOrEqual(BYTES);
    const laggard = share.lines.filter(
      (l) => (l.event === 'viewer_resynced' || l.event === 'viewer_dropped') && l.viewer === frozen.id,
    );
    expect(laggard.length).toBeGreaterThan(0);

    // Thawed, the stalled viewer finds out (fresh screen and exit, or a closed session) and ends.
    stalled.child.kill('SIGCONT');
    await until(() => stalled.child.exitCode !== null || undefined, 'the stalled viewer to end', 45_000);
    expect(await share.exited).toBe(0);
  }, 120_000);
});
