import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, runCli, TempDirs } from '../../../packages/host/test/helpers/cli.js';
import {
  type Agent,
  makeAgent,
  type Server,
  startDaemon,
  startServer,
} from '../../../packages/host/test/helpers/mesh.js';
import { APP_TOKEN, FakeGotify, startFakeGotify } from './helpers/fake-gotify.js';

/** Notifications for real file transfers: the receiving daemon observes file-transfer's events. */
describe('Gotify notifications for file transfers between two agents', () => {
  const dirs = new TempDirs();
  let server: Server;
  let gotify: FakeGotify;
  let alice: Agent;
  let bob: Agent;

  beforeAll(async () => {
    server = await startServer(dirs);
    gotify = await startFakeGotify();
    [alice, bob] = await Promise.all([
      makeAgent(dirs),
      makeAgent(dirs, { env: { GOTIFY_TOKEN: APP_TOKEN } }),
    ]);
    const config = join(bob.home, 'mesh-agent.config.json');
    await writeFile(
      config,
      JSON.stringify({
        plugins: {
          'file-transfer': { maxSize: 4 * 1024 * 1024 },
          'notifications-gotify': { url: gotify.url, retry: { initialDelayMs: 100, maxDelayMs: 500 } },
        },
      }),
    );
    await startDaemon(bob, ['--server', server.url, '--config', config]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([bob?.proc?.stop(), server?.proc.stop()]);
    await gotify?.close();
    await dirs.cleanup();
  });

  async function send(name: string, bytes: number) {
    const file = join(alice.home, name);
    await writeFile(file, randomBytes(bytes));
    return runCli(['send-file', file, '--to', bob.id, '--server', server.url, '--json'], alice.env, {
      timeoutMs: 60_000,
    });
  }

  it('a received file gives exactly one notification, with its name and size', async () => {
    const result = await send('report.bin', 1_234_567);
    expect(result.code, result.stderr).toBe(0);
    await eventually(async () => gotify.received.length > 0);
    await new Promise((r) => setTimeout(r, 500)); // progress events must not add any
    expect(gotify.received.map((m) => m.body)).toEqual([
      {
        title: 'File received: report.bin',
        message: `report.bin (1234567 bytes) from ${alice.id}`,
        priority: 5,
      },
    ]);
    expect(gotify.violations).toEqual([]);
  });

  it('a failed transfer gives one notification with the reason', async () => {
    gotify.received.length = 0;
    const result = await send('huge.bin', 5 * 1024 * 1024);
    expect(result.code).not.toBe(0);
    await eventually(async () => gotify.received.length > 0);
    await new Promise((r) => setTimeout(r, 300));
    expect(gotify.received).toHaveLength(1);
    expect(gotify.received[0]?.body).toMatchObject({
      title: 'Transfer failed: huge.bin',
      message: expect.stringMatching(
        /^Transfer failed: huge\.bin: 5242880 bytes is above this agent's limit/,
      ),
      priority: 8,
    });
  });

  it('Gotify down during a transfer changes nothing in the transfer; the notification arrives once it is back', async () => {
    gotify.received.length = 0;
    const port = gotify.port;
    await gotify.close();
    const result = await send('while-down.bin', 300_000);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).files[0]).toMatchObject({ name: 'while-down.bin', size: 300_000 });
    await eventually(async () => bob.proc?.stderr.includes('Gotify delivery failed, retrying'));
    gotify = await new FakeGotify({ tokens: [APP_TOKEN], port }).listen();
    await eventually(async () => gotify.received.length > 0, 15_000);
    expect(gotify.received.map((m) => m.body.title)).toEqual(['File received: while-down.bin']);
  }, 60_000);
});
