import { readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { formatBytes } from '@mesh-agent/host';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Agent,
  type Server,
  startDaemon,
  startServer,
} from '../../../packages/host/test/helpers/mesh.js';
import {
  blake3Of,
  CliProcess,
  cancelSender,
  eventually,
  joined,
  listFiles,
  logRecords,
  makeFileAgent,
  parseJson,
  partBytes,
  randomFile,
  runCli,
  type SentFile,
  TempDirs,
} from './helpers/fixtures.js';

const MIB = 1024 * 1024;

describe('Ctrl-C on a sending send-file', () => {
  const dirs = new TempDirs();
  let server: Server;
  let alice: Agent;
  let bob: Agent;

  beforeAll(async () => {
    server = await startServer(dirs);
    // QUIC's default idle timeout: without the cancel, bob would only notice after 30 s.
    [alice, bob] = await Promise.all([
      makeFileAgent(dirs),
      makeFileAgent(dirs, { quic: { idleTimeoutMs: 30_000 } }),
    ]);
    await startDaemon(bob, ['--server', server.url]);
    await joined(server, bob);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([bob?.proc?.stop(), server?.proc.stop()]);
    await dirs.cleanup();
  });

  it('tells the receiver at once, exits 130, keeps the part file; the same command resumes', async () => {
    const size = 128 * MIB;
    const file = await randomFile(await dirs.make(), 'cancel.bin', size);
    const downloads = join(bob.home, 'downloads');
    const send = ['send-file', file, '--to', bob.id, '--server', server.url];
    const first = new CliProcess(send, alice.env);
    await eventually(async () => (await partBytes(downloads)) >= 8 * MIB, 60_000, 10);
    const { record: cancelled, latencyMs } = await cancelSender(first, bob, 'SIGINT');
    expect(latencyMs, `the receiver learnt after ${latencyMs} ms`).toBeLessThan(2_000);
    expect(cancelled.msg).toMatch(
      new RegExp(`^${alice.id} cancelled cancel\\.bin: \\d+ of ${size} bytes kept`),
    );
    expect(await first.exited).toBe(130);
    expect(first.stderr).toMatch(/cancel\.bin: cancelled at [\d.]+ MiB of 128\.0 MiB/);
    expect(first.stderr).toMatch(/cancelled; run the same command again to resume/);
    const kept = await partBytes(downloads);
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(size);
    expect(await listFiles(downloads)).not.toContain('cancel.bin');

    const again = await runCli([...send, '--json'], alice.env, { timeoutMs: 60_000 });
    expect(again.code, again.stderr).toBe(0);
    const sent = parseJson<{ files: SentFile[] }>(again).files[0] as SentFile;
    expect(sent.resumedFrom).toBe(kept);
    expect(sent.bytesSent).toBe(size - kept);
    expect(await blake3Of(join(downloads, 'cancel.bin'))).toBe(await blake3Of(file));
  }, 120_000);

  it('a cancel during the prefix check of a resume reports the bytes the part file holds', async () => {
    const size = 512 * MIB;
    const file = await randomFile(await dirs.make(), 'prefix.bin', size);
    const downloads = join(bob.home, 'downloads');
    const send = ['send-file', file, '--to', bob.id, '--server', server.url];
    const first = new CliProcess(send, alice.env);
    await eventually(async () => (await partBytes(downloads)) >= 256 * MIB, 60_000, 10);
    await cancelSender(first, bob, 'SIGINT');
    expect(await first.exited).toBe(130);
    const kept = await partBytes(downloads);
    const records = logRecords(bob).length;

    const second = new CliProcess(send, alice.env);
    // Both sides hash the prefix before any byte moves: the receiver reads its part file, then
    // the sender reads its file a second time (it holds it open once for the transfer). Cancelled
    // during the sender's read, both sides know what the part file keeps.
    await eventually(async () => (await openCount(second.child.pid!, file)) > 1, 30_000, 2);
    second.child.kill('SIGTERM');
    const cancelled = await eventually(
      async () =>
        logRecords(bob)
          .slice(records)
          .find((r) => r.code === 'CANCELLED'),
      5_000,
      10,
    );
    expect(await second.exited).toBe(143);
    expect(await partBytes(downloads)).toBe(kept);
    expect(cancelled.msg).toBe(
      `${alice.id} cancelled prefix.bin: ${kept} of ${size} bytes kept, sending it again resumes`,
    );
    expect(cancelled.bytes).toBe(kept);
    // The sender says the same.
    expect(second.stderr).toContain(`prefix.bin: cancelled at ${formatBytes(kept)} of 512.0 MiB`);
  }, 120_000);
});

/** How many of process `pid`'s descriptors are open on a path ending in `suffix`. */
async function openCount(pid: number, suffix: string): Promise<number> {
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => []);
  const targets = await Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
  return targets.filter((target) => target.endsWith(suffix)).length;
}
