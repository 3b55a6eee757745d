import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FrameChannel } from '@mesh-agent/host';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Agent,
  type Server,
  startDaemon,
  startServer,
} from '../../../packages/host/test/helpers/mesh.js';
import { PARTIAL_DIR, partFilesFor } from '../src/part-files.js';
import { blake3Hex, CraftedSender, meta } from './helpers/crafted-sender.js';
import { eventually, joined, listFiles, makeFileAgent, TempDirs } from './helpers/fixtures.js';

const ANSWERS = ['FILE_ACCEPT', 'FILE_RESUME', 'FILE_REJECT', 'FILE_VERIFIED', 'FILE_FAILED'];

/** Reads answers until the receiver's verdict (reject, verified, failed), then ends our side. */
async function verdict(channel: FrameChannel): Promise<Record<string, unknown>> {
  for (;;) {
    const frame = await channel.next(ANSWERS);
    if (['FILE_REJECT', 'FILE_VERIFIED', 'FILE_FAILED'].includes(frame.header.type)) {
      await channel.end().catch(() => {});
      return frame.header;
    }
  }
}

/** Sends FILE_META, expects FILE_ACCEPT, and sends FILE_START at 0. */
async function begin(channel: FrameChannel, name: string, size: number, extra: Record<string, unknown> = {}) {
  await channel.send(meta(name, size, extra));
  const answer = await channel.next(ANSWERS);
  expect(answer.header.type).toBe('FILE_ACCEPT');
  await channel.send({ type: 'FILE_START', offset: 0 });
}

const bytes = (n: number, fill = 7) => Buffer.alloc(n, fill);

function tryMountTmpfs(dir: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('a receiving daemon against a misbehaving sender', () => {
  const dirs = new TempDirs();
  let server: Server;
  let bob: Agent;
  let sender: CraftedSender;
  let downloads: string;

  beforeAll(async () => {
    server = await startServer(dirs);
    bob = await makeFileAgent(dirs);
    downloads = join(bob.home, 'downloads');
    await startDaemon(bob, ['--server', server.url]);
    await joined(server, bob);
    sender = await CraftedSender.start(await dirs.make('mesh-crafted-'), server.url);
  }, 60_000);

  afterAll(async () => {
    await sender?.stop();
    await Promise.all([bob?.proc?.stop(), server?.proc.stop()]);
    await dirs.cleanup();
  });

  const unsafeNames: Array<[string, string]> = [
    ['../x', 'path separator'],
    ['/etc/x', 'path separator'],
    ['C:\\x', 'path separator'],
    ['a/../../x', 'path separator'],
    ['a\u0000b', 'NUL'],
    ['', 'empty'],
    ['.', 'not a file'],
    ['..', 'not a file'],
    ['C:x', 'drive letter'],
    ['é'.repeat(128), 'at most 255'],
  ];
  it.each(unsafeNames)('rejects the name %j (%s) and writes nothing', async (name, why) => {
    const channel = await sender.open(bob.id);
    await channel.send(meta(name, 10));
    const answer = await verdict(channel);
    expect(answer).toMatchObject({ type: 'FILE_REJECT', code: 'BAD_NAME' });
    expect(String(answer.reason)).toContain(why);
    expect(await listFiles(downloads)).toEqual([]);
    expect(existsSync(join(bob.home, 'x'))).toBe(false);
    expect(existsSync('/etc/x')).toBe(false);
  });

  const violations: Array<[string, Array<[number, number]>, number, RegExp]> = [
    // [case, chunks as [offset, length], declared size, reason]
    [
      'more bytes than declared',
      [
        [0, 65_536],
        [65_536, 65_536],
      ],
      100_000,
      /more bytes than the 100000 declared/,
    ],
    [
      'offsets out of order',
      [
        [65_536, 65_536],
        [0, 65_536],
      ],
      131_072,
      /offset 65536, expected 0/,
    ],
    [
      'a gap',
      [
        [0, 65_536],
        [131_072, 65_536],
      ],
      200_000,
      /offset 131072, expected 65536/,
    ],
    [
      'an overlap',
      [
        [0, 65_536],
        [32_768, 65_536],
      ],
      200_000,
      /offset 32768, expected 65536/,
    ],
    ['a chunk larger than agreed', [[0, 100_000]], 200_000, /100000 bytes exceeds the agreed 65536/],
  ];
  it.each(violations)(
    'fails the transfer on %s and removes the partial file',
    async (_case, chunks, size, reason) => {
      const channel = await sender.open(bob.id);
      await begin(channel, 'violation.bin', size);
      for (const [offset, length] of chunks)
        await channel.send({ type: 'FILE_CHUNK', offset }, bytes(length));
      const answer = await verdict(channel);
      expect(answer).toMatchObject({ type: 'FILE_FAILED', code: 'PROTOCOL' });
      expect(String(answer.reason)).toMatch(reason);
      expect(await listFiles(downloads)).toEqual([]);
    },
  );

  it('fails FILE_DONE before every byte arrived', async () => {
    const channel = await sender.open(bob.id);
    await begin(channel, 'short.bin', 100_000);
    await channel.send({ type: 'FILE_CHUNK', offset: 0 }, bytes(65_536));
    await channel.send({ type: 'FILE_DONE', hash: await blake3Hex(bytes(100_000)) });
    const answer = await verdict(channel);
    expect(answer).toMatchObject({ type: 'FILE_FAILED', code: 'PROTOCOL' });
    expect(String(answer.reason)).toContain('FILE_DONE after 65536 of 100000 bytes');
    expect(await listFiles(downloads)).toEqual([]);
  });

  it('fails a corrupted chunk with HASH_MISMATCH and keeps no file', async () => {
    const good = [bytes(65_536, 1), bytes(65_536, 2), bytes(10_000, 3)];
    const corrupted = Buffer.from(good[1] as Buffer);
    corrupted.writeUInt8(corrupted.readUInt8(1234) ^ 0xff, 1234);
    const channel = await sender.open(bob.id);
    await begin(channel, 'corrupt.bin', 141_072);
    await channel.send({ type: 'FILE_CHUNK', offset: 0 }, good[0]);
    await channel.send({ type: 'FILE_CHUNK', offset: 65_536 }, corrupted);
    await channel.send({ type: 'FILE_CHUNK', offset: 131_072 }, good[2]);
    await channel.send({ type: 'FILE_DONE', hash: await blake3Hex(...good) });
    const answer = await verdict(channel);
    expect(answer).toMatchObject({ type: 'FILE_FAILED', code: 'HASH_MISMATCH' });
    expect(String(answer.reason)).toMatch(/BLAKE3 mismatch/);
    expect(await listFiles(downloads)).toEqual([]);
  });

  it('accepts a well-behaved crafted transfer (the harness itself is sound)', async () => {
    const data = [bytes(65_536, 9), bytes(1_000, 8)];
    const channel = await sender.open(bob.id);
    await begin(channel, 'ok.bin', 66_536);
    await channel.send({ type: 'FILE_CHUNK', offset: 0 }, data[0]);
    await channel.send({ type: 'FILE_CHUNK', offset: 65_536 }, data[1]);
    await channel.send({ type: 'FILE_DONE', hash: await blake3Hex(...data) });
    expect(await verdict(channel)).toMatchObject({ type: 'FILE_VERIFIED', saved_as: 'ok.bin' });
    expect(await listFiles(downloads)).toEqual(['ok.bin']);
  });

  describe('on a full disk (tmpfs download directory)', () => {
    let carol: Agent;
    let mounted = false;
    let tmpfs: string;

    beforeAll(async () => {
      tmpfs = join(await dirs.make('mesh-tmpfs-'), 'mnt');
      await mkdir(tmpfs);
      mounted = tryMountTmpfs(tmpfs, '8m');
      carol = await makeFileAgent(dirs, { fileTransfer: { downloadDir: tmpfs } });
      await startDaemon(carol, ['--server', server.url]);
      await joined(server, carol);
    }, 30_000);

    afterAll(async () => {
      await carol?.proc?.stop();
      if (mounted) execFileSync('umount', [tmpfs]);
    });

    it('refuses a file larger than the free space before any byte is sent', async (ctx) => {
      if (!mounted) ctx.skip();
      const channel = await sender.open(carol.id);
      await channel.send(meta('huge.bin', 16 * 1024 * 1024));
      const answer = await verdict(channel);
      expect(answer).toMatchObject({ type: 'FILE_REJECT', code: 'NO_SPACE' });
      expect(String(answer.reason)).toMatch(/not enough space/);
    });

    it('refuses a second transfer that fits alone but not next to the first', async (ctx) => {
      if (!mounted) ctx.skip();
      const size = 5 * 1024 * 1024;
      const first = await sender.open(carol.id);
      await begin(first, 'held.bin', size);
      const second = await sender.open(carol.id);
      await second.send(meta('late.bin', size));
      const answer = await verdict(second);
      expect(answer).toMatchObject({ type: 'FILE_REJECT', code: 'NO_SPACE' });
      expect(String(answer.reason)).toMatch(/transfers in progress hold/);
      await first.send({ type: 'FILE_ABORT', code: 'IO_ERROR', reason: 'test over' });
      await verdict(first).catch(() => {});
      await eventually(async () => (await listFiles(tmpfs)).length === 0, 5_000, 50);
    });

    it('fails with NO_SPACE when the disk fills up mid-transfer and removes the partial file', async (ctx) => {
      if (!mounted) ctx.skip();
      const size = 6 * 1024 * 1024;
      const piece = bytes(65_536, 5);
      // Accepted with 8 MiB free; then something else takes 4 MiB of it.
      const second = await sender.open(carol.id);
      await begin(second, 'second.bin', size);
      await writeFile(join(tmpfs, 'first.bin'), bytes(4 * 1024 * 1024));
      let failed: Record<string, unknown> | undefined;
      const answer = verdict(second).then((h) => {
        failed = h;
        return h;
      });
      for (let offset = 0; offset < size && !failed; offset += piece.length)
        await second.send({ type: 'FILE_CHUNK', offset }, piece).catch(() => {});
      expect(await answer).toMatchObject({ type: 'FILE_FAILED', code: 'NO_SPACE' });
      expect(String((await answer).reason)).toMatch(/full/);
      expect((await listFiles(tmpfs)).filter((f) => !f.startsWith(PARTIAL_DIR))).toEqual(['first.bin']);
      expect((await listFiles(tmpfs)).filter((f) => f.startsWith(PARTIAL_DIR))).toEqual([]);
    });
  });

  it('replaces links planted at the part and sidecar paths, never writing through them', async () => {
    const files = await partFilesFor(downloads, sender.host.agentId, 'planted.bin');
    const victims = { part: join(bob.home, 'victim-part'), sidecar: join(bob.home, 'victim-sidecar') };
    for (const [kind, victim] of Object.entries(victims)) {
      await writeFile(victim, 'precious');
      await symlink(victim, files[kind as keyof typeof victims]);
    }
    const data = bytes(60_000, 4);
    const channel = await sender.open(bob.id);
    await begin(channel, 'planted.bin', data.length);
    await channel.send({ type: 'FILE_CHUNK', offset: 0 }, data);
    await channel.send({ type: 'FILE_DONE', hash: await blake3Hex(data) });
    const answer = await verdict(channel);
    expect(answer, String(answer.reason)).toMatchObject({ type: 'FILE_VERIFIED', saved_as: 'planted.bin' });
    for (const victim of Object.values(victims)) expect(await readFile(victim, 'utf8')).toBe('precious');
    expect((await readFile(join(downloads, 'planted.bin'))).equals(data)).toBe(true);
    expect((await lstat(join(downloads, 'planted.bin'))).mode & 0o7777).toBe(0o644);
    expect(existsSync(files.part) || existsSync(files.sidecar)).toBe(false);
    await rm(join(downloads, 'planted.bin'));
  });

  it('lands a file sent with set-id and world-writable bits without them', async () => {
    const data = bytes(1_000, 2);
    const channel = await sender.open(bob.id);
    await begin(channel, 'setuid.bin', data.length, { mode: 0o777 });
    await channel.send({ type: 'FILE_CHUNK', offset: 0 }, data);
    await channel.send({ type: 'FILE_DONE', hash: await blake3Hex(data) });
    expect(await verdict(channel)).toMatchObject({ type: 'FILE_VERIFIED', saved_as: 'setuid.bin' });
    expect((await lstat(join(downloads, 'setuid.bin'))).mode & 0o7777).toBe(0o755);
    await rm(join(downloads, 'setuid.bin'));
  });

  describe('with a quota on transfers in progress (maxInFlightBytes)', () => {
    let dave: Agent;
    const size = 2 * 1024 * 1024;
    const piece = bytes(65_536, 6);
    const hash = () => blake3Hex(...Array(size / piece.length).fill(piece));

    beforeAll(async () => {
      dave = await makeFileAgent(dirs, { fileTransfer: { maxInFlightBytes: 3 * 1024 * 1024 } });
      await startDaemon(dave, ['--server', server.url]);
      await joined(server, dave);
    }, 30_000);

    afterAll(() => dave?.proc?.stop());

    it('refuses the second of two concurrent transfers that together exceed it, and loses nothing', async () => {
      const daveDownloads = join(dave.home, 'downloads');
      const first = await sender.open(dave.id);
      await begin(first, 'first.bin', size);
      await first.send({ type: 'FILE_CHUNK', offset: 0 }, piece);
      const second = await sender.open(dave.id);
      await second.send(meta('second.bin', size));
      const refused = await verdict(second);
      expect(refused).toMatchObject({ type: 'FILE_REJECT', code: 'NO_SPACE' });
      expect(String(refused.reason)).toMatch(/hold 2097152 of the 3145728 bytes .*maxInFlightBytes/);
      for (let offset = piece.length; offset < size; offset += piece.length)
        await first.send({ type: 'FILE_CHUNK', offset }, piece);
      await first.send({ type: 'FILE_DONE', hash: await hash() });
      expect(await verdict(first)).toMatchObject({ type: 'FILE_VERIFIED', saved_as: 'first.bin' });
      // The first one's reservation is released: the refused file now goes through.
      const again = await sender.open(dave.id);
      await begin(again, 'second.bin', size);
      for (let offset = 0; offset < size; offset += piece.length)
        await again.send({ type: 'FILE_CHUNK', offset }, piece);
      await again.send({ type: 'FILE_DONE', hash: await hash() });
      expect(await verdict(again)).toMatchObject({ type: 'FILE_VERIFIED', saved_as: 'second.bin' });
      expect(await listFiles(daveDownloads)).toEqual(['first.bin', 'second.bin']);
    });
  });

  it('removes an abandoned .part older than partMaxAgeMs at start, and keeps a fresh one', async () => {
    const erin = await makeFileAgent(dirs, { fileTransfer: { partMaxAgeMs: 60 * 60_000 } });
    const erinDownloads = join(erin.home, 'downloads');
    const old = await partFilesFor(erinDownloads, 'someone', 'old.bin');
    const fresh = await partFilesFor(erinDownloads, 'someone', 'fresh.bin');
    for (const files of [old, fresh]) {
      await writeFile(files.part, 'partial');
      await writeFile(files.sidecar, '{}');
    }
    const then = (Date.now() - 2 * 60 * 60_000) / 1000;
    for (const path of [old.part, old.sidecar]) await utimes(path, then, then);
    await startDaemon(erin, ['--server', server.url]);
    try {
      await eventually(async () => !existsSync(old.part), 10_000, 50);
      expect(existsSync(old.sidecar)).toBe(false);
      expect(existsSync(fresh.part) && existsSync(fresh.sidecar)).toBe(true);
    } finally {
      await erin.proc?.stop();
    }
  });
});
