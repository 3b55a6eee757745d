import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Agent,
  type Server,
  startDaemon,
  startServer,
} from '../../../packages/host/test/helpers/mesh.js';
import { CraftedSender, meta } from './helpers/crafted-sender.js';
import { joined, makeFileAgent, TempDirs } from './helpers/fixtures.js';

describe('a receiving daemon against a sender that stalls in the middle of a file', () => {
  const dirs = new TempDirs();
  let server: Server;
  let bob: Agent;
  let sender: CraftedSender;

  beforeAll(async () => {
    server = await startServer(dirs);
    bob = await makeFileAgent(dirs, { fileTransfer: { stallSeconds: 1 } });
    await startDaemon(bob, ['--server', server.url]);
    await joined(server, bob);
    sender = await CraftedSender.start(await dirs.make('mesh-crafted-'), server.url);
  }, 60_000);
  afterAll(async () => {
    await sender?.stop();
    await Promise.all([bob?.proc?.stop(), server?.proc.stop()]);
    await dirs.cleanup();
  });

  it('fails the transfer after stallSeconds of silence', async () => {
    const channel = await sender.open(bob.id);
    await channel.send(meta('stall.bin', 200_000));
    expect((await channel.next(['FILE_ACCEPT'])).header.type).toBe('FILE_ACCEPT');
    await channel.send({ type: 'FILE_START', offset: 0 });
    await channel.send({ type: 'FILE_CHUNK', offset: 0 }, Buffer.alloc(65_536, 1));
    const started = Date.now();
    const verdict = await channel.next(['FILE_FAILED']);
    expect(verdict.header).toMatchObject({ code: 'PROTOCOL', reason: expect.stringMatching(/stalled/) });
    expect(Date.now() - started).toBeLessThan(5_000);
  }, 20_000);
});
