import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliProcess, eventually, TempDirs } from '../../../packages/host/test/helpers/cli.js';
import {
  type Agent,
  type Server,
  startDaemon,
  startServer,
} from '../../../packages/host/test/helpers/mesh.js';
import { cancelSender, joined, randomFile } from '../../file-transfer/test/helpers/fixtures.js';
import { PARTIAL_DIR } from '../src/receiver.js';
import { listTree, makeFolderAgent } from './helpers/agents.js';

const MIB = 1024 * 1024;

/** Bytes of the files under `dir`. */
async function bytesUnder(dir: string): Promise<number> {
  const files = (await listTree(dir)).filter((path) => !path.endsWith('/'));
  const sizes = await Promise.all(
    files.map((f) =>
      stat(join(dir, f)).then(
        (s) => s.size,
        () => 0,
      ),
    ),
  );
  return sizes.reduce((sum, size) => sum + size, 0);
}

describe('SIGTERM on a sending send-folder', () => {
  const dirs = new TempDirs();
  let server: Server;
  let alice: Agent;
  let bob: Agent;

  beforeAll(async () => {
    server = await startServer(dirs);
    [alice, bob] = await Promise.all([makeFolderAgent(dirs), makeFolderAgent(dirs)]);
    await startDaemon(bob, ['--server', server.url]);
    await joined(server, bob);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([bob?.proc?.stop(), server?.proc.stop()]);
    await dirs.cleanup();
  });

  it('tells the receiver at once (it drops the partial folder) and exits 143', async () => {
    const root = join(await dirs.make(), 'album');
    await mkdir(root);
    await randomFile(root, 'big.bin', 128 * MIB);
    const downloads = join(bob.home, 'downloads');
    const partial = join(downloads, PARTIAL_DIR);
    const sending = new CliProcess(['send-folder', root, '--to', bob.id, '--server', server.url], alice.env);
    await eventually(async () => (await bytesUnder(partial)) >= 8 * MIB, 60_000, 10);
    const { record: cancelled, latencyMs } = await cancelSender(sending, bob, 'SIGTERM');
    expect(latencyMs, `the receiver learnt after ${latencyMs} ms`).toBeLessThan(2_000);
    expect(cancelled.msg).toBe(`${alice.id} cancelled album; the partial folder was removed`);
    expect(await sending.exited).toBe(143);
    expect(sending.stderr).toMatch(/album: cancelled at 0 B of 128\.0 MiB/);
    expect(sending.stderr).toMatch(/cancelled; the receiver dropped the partial folder/);
    expect(await listTree(downloads)).toEqual([`${PARTIAL_DIR}/`]);
  }, 120_000);
});
