import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
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

/** Notifications for real transfers: the receiving daemon observes file-transfer's and folder-zip's events. */
describe('Gotify notifications for file and folder transfers between two agents', () => {
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
          'folder-zip': { maxEntries: 6 },
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

  /** The messages Gotify got once `count` arrived and a moment passed (progress must add none). */
  async function delivered(count: number) {
    await eventually(async () => gotify.received.length >= count);
    await new Promise((r) => setTimeout(r, 500));
    return gotify.received.splice(0).map((m) => m.body);
  }

  it('a received file gives exactly one notification, with its saved name and a human size', async () => {
    const result = await send('report.bin', 1_234_567);
    expect(result.code, result.stderr).toBe(0);
    expect(await delivered(1)).toEqual([
      {
        title: 'File received: report.bin',
        message: `report.bin (1.2 MiB) from ${alice.id}`,
        priority: 5,
      },
    ]);
    expect(gotify.violations).toEqual([]);
  });

  it('a file saved under another name (the first is taken) is named as saved', async () => {
    const result = await send('report.bin', 2048);
    expect(result.code, result.stderr).toBe(0);
    expect(await delivered(1)).toEqual([
      {
        title: 'File received: report (1).bin',
        message: `report (1).bin (2.0 KiB) from ${alice.id}`,
        priority: 5,
      },
    ]);
  });

  it('a refused file gives one notification with the reason in plain words', async () => {
    const result = await send('huge.bin', 5 * 1024 * 1024);
    expect(result.code).not.toBe(0);
    expect(await delivered(1)).toEqual([
      {
        title: 'File not received: huge.bin',
        message: `huge.bin (5.0 MiB) from ${alice.id} was not saved: it is bigger than this agent accepts (see its size limits)`,
        priority: 8,
      },
    ]);
  });

  async function sendFolder(name: string, files: number) {
    const root = join(alice.home, name);
    await mkdir(join(root, 'sub'), { recursive: true });
    for (let i = 0; i < files; i++)
      await writeFile(join(root, i % 2 ? 'sub' : '', `f${i}.bin`), randomBytes(40_000));
    return runCli(['send-folder', root, '--to', bob.id, '--server', server.url, '--json'], alice.env, {
      timeoutMs: 60_000,
    });
  }

  it('a received folder gives one notification with its saved name, file count and size', async () => {
    const result = await sendFolder('photos', 2);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).savedAs).toBe('photos');
    expect(await delivered(1)).toEqual([
      {
        title: 'Folder received: photos',
        message: `photos (2 files, 78.1 KiB) from ${alice.id}`,
        priority: 5,
      },
    ]);
    expect(gotify.violations).toEqual([]);
  });

  it('a refused folder gives one notification with the reason in plain words', async () => {
    const result = await sendFolder('too-many', 8);
    expect(result.code).not.toBe(0);
    expect(await delivered(1)).toEqual([
      {
        title: 'Folder not received: too-many',
        message: `too-many (8 files, 312.5 KiB) from ${alice.id} was not saved: it is bigger than this agent accepts (see its size limits)`,
        priority: 8,
      },
    ]);
  });

  it('Gotify down during a transfer changes nothing in the transfer; the notification arrives once it is back', async () => {
    const port = gotify.port;
    await gotify.close();
    const result = await send('while-down.bin', 300_000);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).files[0]).toMatchObject({ name: 'while-down.bin', size: 300_000 });
    await eventually(async () => bob.proc?.stderr.includes('notifications paused'));
    gotify = await new FakeGotify({ tokens: [APP_TOKEN], port }).listen();
    await eventually(async () => gotify.received.length > 0, 15_000);
    expect(gotify.received.map((m) => m.body.title)).toEqual(['File received: while-down.bin']);
  }, 60_000);
});
