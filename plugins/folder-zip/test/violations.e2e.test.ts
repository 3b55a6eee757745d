import { existsSync } from 'node:fs';
import { lstat, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { FrameChannel } from '@mesh-agent/host';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, TempDirs } from '../../../packages/host/test/helpers/cli.js';
import {
  type Agent,
  type Server,
  startDaemon,
  startServer,
} from '../../../packages/host/test/helpers/mesh.js';
import { blake3Hex, CraftedSender } from '../../file-transfer/test/helpers/crafted-sender.js';
import { joined } from '../../file-transfer/test/helpers/fixtures.js';
import { OFFER_FIELDS, registerZipMessages, ZIP_STREAM } from '../src/protocol.js';
import { PARTIAL_DIR } from '../src/receiver.js';
import { listTree, makeFolderAgent } from './helpers/agents.js';
import { type TestEntry, type WithdrawnArchive, zipOf, zipWithWithdrawal } from './helpers/zip-bytes.js';

const VERDICTS = ['ZIP_REJECT', 'ZIP_VERIFIED', 'ZIP_FAILED'];

/** Reads the receiver's answers until its verdict, then ends our side. */
async function verdict(channel: FrameChannel): Promise<Record<string, unknown>> {
  for (;;) {
    const frame = await channel.next(['ZIP_ACCEPT', ...VERDICTS]);
    if (VERDICTS.includes(frame.header.type)) {
      await channel.end().catch(() => {});
      return frame.header;
    }
  }
}

/**
 * Watches for the receiver's verdict while a crafted sender streams: `data` sends bytes in 64 KiB
 * ZIP_DATA frames and `end` sends ZIP_END, each stopping once the receiver has failed the folder.
 */
function streamUntilVerdict(channel: FrameChannel) {
  const answer = verdict(channel);
  let failed = false;
  answer.then(
    () => {
      failed = true;
    },
    () => {},
  );
  return {
    answer,
    async data(bytes: Buffer): Promise<void> {
      for (let at = 0; at < bytes.length && !failed; at += 65_536)
        await channel.send({ type: 'ZIP_DATA' }, bytes.subarray(at, at + 65_536)).catch(() => {});
    },
    async end(body: Buffer, hash?: string): Promise<void> {
      if (!failed)
        await channel
          .send({ type: 'ZIP_END', hash: hash ?? (await blake3Hex(body)), zip_bytes: body.length })
          .catch(() => {});
    },
    async send(header: Record<string, unknown> & { type: string }): Promise<void> {
      await channel.send(header).catch(() => {});
    },
  };
}

interface Crafted {
  root?: string;
  files?: number;
  dirs?: number;
  bytes?: number;
  /** Send only this many bytes of the archive. */
  cut?: number;
  hash?: string;
}

/** Offset of the n-th occurrence of a u32 signature. */
function nth(zip: Buffer, signature: number, n = 0): number {
  const sig = Buffer.alloc(4);
  sig.writeUInt32LE(signature);
  let at = -1;
  for (let i = 0; i <= n; i++) at = zip.indexOf(sig, at + 1);
  return at;
}

describe('a receiving daemon against a misbehaving folder sender', () => {
  const dirs = new TempDirs();
  let server: Server;
  let bob: Agent;
  let sender: CraftedSender;
  const downloads = () => join(bob.home, 'downloads');

  beforeAll(async () => {
    server = await startServer(dirs);
    bob = await makeFolderAgent(dirs, { folderZip: { maxEntries: 1000 } });
    await startDaemon(bob, ['--server', server.url]);
    await joined(server, bob);
    sender = await CraftedSender.start(await dirs.make('mesh-fz-crafted-'), server.url);
    registerZipMessages(sender.host.messages);
  }, 60_000);

  afterAll(async () => {
    await sender?.stop();
    await Promise.all([bob?.proc?.stop(), server?.proc.stop()]);
    await dirs.cleanup();
  });

  /** A `zip` stream; `offer` adds what a sender that takes withdrawals says at STREAM_OPEN. */
  async function open(offer = false): Promise<FrameChannel> {
    return (await sender.host.openStream({ agentId: bob.id }, ZIP_STREAM, offer ? OFFER_FIELDS : {})).channel;
  }

  /** Announces, streams `zip` in 64 KiB frames (stopping early if the receiver fails it), ends. */
  async function send(zip: Buffer, crafted: Crafted = {}): Promise<Record<string, unknown>> {
    const channel = await open();
    await channel.send({
      type: 'ZIP_META',
      root: crafted.root ?? 'root',
      files: crafted.files ?? 10,
      dirs: crafted.dirs ?? 10,
      bytes: crafted.bytes ?? 100 * 1024 * 1024,
    });
    const first = await channel.next(['ZIP_ACCEPT', 'ZIP_REJECT']);
    if (first.header.type === 'ZIP_REJECT') return first.header;
    const stream = streamUntilVerdict(channel);
    const body = zip.subarray(0, crafted.cut ?? zip.length);
    await stream.data(body);
    await stream.end(body, crafted.hash);
    return stream.answer;
  }

  async function expectNothingWritten(): Promise<void> {
    await eventually(async () => (await listTree(join(downloads(), PARTIAL_DIR))).length === 0, 5_000, 50);
    expect((await listTree(downloads())).filter((p) => !p.startsWith(PARTIAL_DIR))).toEqual([]);
    expect(existsSync(join(bob.home, 'x'))).toBe(false);
    expect(existsSync(join(bob.home, 'evil'))).toBe(false);
    expect(existsSync('/tmp/evil-zip-slip')).toBe(false);
  }

  it('accepts a well-formed crafted archive (the harness itself is sound)', async () => {
    const zip = await zipOf([
      { name: 'ok', dir: true },
      { name: 'ok/a.txt', data: Buffer.from('fine') },
    ]);
    const answer = await send(zip, { root: 'ok' });
    expect(answer).toMatchObject({ type: 'ZIP_VERIFIED', saved_as: 'ok', files: 1, bytes: 4 });
    expect(await listTree(downloads())).toContain('ok/a.txt');
    const { rm } = await import('node:fs/promises');
    await rm(join(downloads(), 'ok'), { recursive: true });
  });

  it('lands set-id, sticky and world-writable modes masked', async () => {
    const zip = await zipOf([
      { name: 'modes', dir: true, mode: 0o777 },
      { name: 'modes/open', dir: true, mode: 0o777 },
      { name: 'modes/open/suid', data: Buffer.from('x'), mode: 0o777 },
      { name: 'modes/shared', data: Buffer.from('y'), mode: 0o666 },
    ]);
    // ZipWriter keeps permission bits only: set-id and sticky bits go into the central directory here.
    const extra = [0o1000, 0o1000, 0o4000, 0o2000];
    for (const [n, bits] of extra.entries()) {
      const central = nth(zip, 0x02014b50, n);
      zip.writeUInt32LE((zip.readUInt32LE(central + 38) | (bits << 16)) >>> 0, central + 38);
    }
    const answer = await send(zip, { root: 'modes' });
    expect(answer).toMatchObject({ type: 'ZIP_VERIFIED', saved_as: 'modes' });
    const modeOf = async (path: string) => (await lstat(join(downloads(), path))).mode & 0o7777;
    expect(await modeOf('modes')).toBe(0o755);
    expect(await modeOf('modes/open')).toBe(0o755);
    expect(await modeOf('modes/open/suid')).toBe(0o755);
    expect(await modeOf('modes/shared')).toBe(0o644);
    await rm(join(downloads(), 'modes'), { recursive: true });
  });

  const slips: Array<[string, RegExp]> = [
    ['root/../../evil', /climbs out/],
    ['root/a/../../../evil', /climbs out/],
    ['../evil', /climbs out/],
    ['/tmp/evil-zip-slip', /absolute path/],
    ['C:/evil', /drive letter/],
    ['root\\..\\..\\evil', /backslash/],
    ['root/./evil', /unsafe component/],
    ['root//evil', /unsafe component/],
    ['other/evil', /outside the announced folder/],
    ['root/a\u0000b', /NUL/],
    ['root/a\u0007b', /control characters/],
    [`root/${'é'.repeat(200)}`, /at most 255/],
  ];
  it.each(slips)('refuses the entry %j and writes nothing', async (name, reason) => {
    const zip = await zipOf([
      { name: 'root/fine.txt', data: Buffer.from('x') },
      { name, data: Buffer.from('pwned') },
    ]);
    const answer = await send(zip);
    expect(answer).toMatchObject({ type: 'ZIP_FAILED', code: 'UNSAFE_ENTRY' });
    expect(String(answer.reason)).toMatch(reason);
    await expectNothingWritten();
  });

  it('refuses a path longer than maxPathBytes', async () => {
    const name = `root/${Array.from({ length: 30 }, () => 'd'.repeat(200)).join('/')}`;
    const answer = await send(await zipOf([{ name, data: Buffer.from('x') }]));
    expect(answer).toMatchObject({ type: 'ZIP_FAILED', code: 'UNSAFE_ENTRY' });
    expect(String(answer.reason)).toMatch(/at most 4096 are accepted/);
    await expectNothingWritten();
  });

  it('refuses a root name that is not a plain name', async () => {
    const answer = await send(await zipOf([{ name: '../x/a', data: Buffer.from('x') }]), { root: '../x' });
    expect(answer).toMatchObject({ type: 'ZIP_REJECT', code: 'BAD_NAME' });
    await expectNothingWritten();
  });

  it('refuses an entry that claims to be a symlink (Unix mode in the central directory)', async () => {
    const zip = await zipOf([{ name: 'root/link', data: Buffer.from('/etc/passwd') }]);
    const central = nth(zip, 0x02014b50);
    zip.writeUInt32LE(((0o120000 | 0o777) << 16) >>> 0, central + 38);
    const answer = await send(zip);
    expect(answer).toMatchObject({ type: 'ZIP_FAILED', code: 'UNSAFE_ENTRY' });
    expect(String(answer.reason)).toMatch(/symbolic link/);
    await expectNothingWritten();
  });

  it('refuses an entry that claims to be a link (PKWARE Unix extra field with a target)', async () => {
    const zip = await zipOf([{ name: 'root/hard', data: Buffer.from('x') }]);
    // Insert a 0x000d field carrying "../../etc/passwd" after the local header's extra fields.
    const nameLength = zip.readUInt16LE(26);
    const extraLength = zip.readUInt16LE(28);
    const target = Buffer.from('../../etc/passwd');
    const field = Buffer.alloc(4 + 12 + target.length);
    field.writeUInt16LE(0x000d, 0);
    field.writeUInt16LE(12 + target.length, 2);
    target.copy(field, 16);
    const at = 30 + nameLength + extraLength;
    const crafted = Buffer.concat([zip.subarray(0, at), field, zip.subarray(at)]);
    crafted.writeUInt16LE(extraLength + field.length, 28);
    const answer = await send(crafted);
    expect(answer).toMatchObject({ type: 'ZIP_FAILED', code: 'UNSAFE_ENTRY' });
    expect(String(answer.reason)).toMatch(/claims to be a link/);
    await expectNothingWritten();
  });

  it.each<[string, TestEntry[]]>([
    [
      'a file twice',
      [
        { name: 'root/a', data: Buffer.from('1') },
        { name: 'root/a', data: Buffer.from('2') },
      ],
    ],
    [
      'a directory twice',
      [
        { name: 'root/d', dir: true },
        { name: 'root/d', dir: true },
      ],
    ],
    [
      'a file, then a directory of the same name',
      [
        { name: 'root/a', data: Buffer.from('1') },
        { name: 'root/a', dir: true },
      ],
    ],
    [
      'a file used as a directory',
      [
        { name: 'root/a', data: Buffer.from('1') },
        { name: 'root/a/b', data: Buffer.from('2') },
      ],
    ],
  ])('refuses duplicate entries: %s', async (_case, entries) => {
    const answer = await send(await zipOf(entries));
    expect(answer).toMatchObject({ type: 'ZIP_FAILED', code: 'UNSAFE_ENTRY' });
    expect(String(answer.reason)).toMatch(/appears twice|which is a file/);
    await expectNothingWritten();
  });

  it('refuses an entry whose data exceeds its declared size', async () => {
    const zip = await zipOf([{ name: 'root/a.txt', data: Buffer.from('hello world') }]);
    const dataEnd = 30 + 'root/a.txt'.length + 9 + 11;
    const longer = Buffer.concat([zip.subarray(0, dataEnd), Buffer.from('SMUGGLED'), zip.subarray(dataEnd)]);
    const answer = await send(longer);
    expect(answer).toMatchObject({ type: 'ZIP_FAILED', code: 'CORRUPT' });
    expect(String(answer.reason)).toMatch(/longer than declared/);
    await expectNothingWritten();
  });

  it('refuses a decompression bomb by compression ratio', async () => {
    const zip = await zipOf([{ name: 'root/bomb', data: Buffer.alloc(256 * 1024 * 1024), compress: true }]);
    expect(zip.length).toBeLessThan(1024 * 1024);
    const answer = await send(zip, { bytes: 300 * 1024 * 1024 });
    expect(answer).toMatchObject({ type: 'ZIP_FAILED', code: 'LIMIT' });
    expect(String(answer.reason)).toMatch(/expands more than 500:1/);
    await expectNothingWritten();
  }, 60_000);

  it('refuses an archive that unpacks to more than the sender announced', async () => {
    const zip = await zipOf([{ name: 'root/a', data: Buffer.alloc(5000, 1) }]);
    const answer = await send(zip, { bytes: 1000 });
    expect(answer).toMatchObject({ type: 'ZIP_FAILED', code: 'LIMIT' });
    expect(String(answer.reason)).toMatch(/more than 1000 bytes/);
    await expectNothingWritten();
  });

  it('refuses more entries than announced, and announcements above the limits', async () => {
    const zip = await zipOf(
      Array.from({ length: 8 }, (_, i) => ({ name: `root/f${i}`, data: Buffer.from('x') })),
    );
    const answer = await send(zip, { files: 3, dirs: 0 });
    expect(answer).toMatchObject({ type: 'ZIP_FAILED', code: 'LIMIT' });
    expect(String(answer.reason)).toMatch(/at most 3 are accepted/);
    expect(await send(zip, { files: 5000 })).toMatchObject({ type: 'ZIP_REJECT', code: 'TOO_LARGE' });
    expect(await send(zip, { bytes: 2 ** 50 })).toMatchObject({ type: 'ZIP_REJECT', code: 'TOO_LARGE' });
    await expectNothingWritten();
  });

  it('fails a truncated stream (ZIP_END in the middle of an entry)', async () => {
    const zip = await zipOf([{ name: 'root/a', data: Buffer.alloc(200_000, 1) }]);
    const answer = await send(zip, { cut: 100_000 });
    expect(answer).toMatchObject({ type: 'ZIP_FAILED', code: 'TRUNCATED' });
    await expectNothingWritten();
  });

  it('fails a stream whose BLAKE3 does not match', async () => {
    const zip = await zipOf([{ name: 'root/a', data: Buffer.from('data') }]);
    const answer = await send(zip, { hash: 'a'.repeat(64) });
    expect(answer).toMatchObject({ type: 'ZIP_FAILED', code: 'HASH_MISMATCH' });
    await expectNothingWritten();
  });

  it('cleans up when the sender vanishes mid-stream', async () => {
    const zip = await zipOf([{ name: 'root/a', data: Buffer.alloc(2_000_000, 1) }]);
    const channel = await open();
    await channel.send({ type: 'ZIP_META', root: 'root', files: 1, dirs: 0, bytes: 2_000_000 });
    await channel.next(['ZIP_ACCEPT']);
    await channel.send({ type: 'ZIP_DATA' }, zip.subarray(0, 1024 * 1024));
    await eventually(async () => (await listTree(join(downloads(), PARTIAL_DIR))).length > 0, 5_000, 20);
    channel.destroy(new Error('sender killed'));
    await expectNothingWritten();
  });
  describe('withdrawals', () => {
    /** kept.txt, then big.bin (2 MiB) withdrawn after 1.5 MiB, then after.txt. */
    const archive = () =>
      zipWithWithdrawal(
        [
          { name: 'w', dir: true },
          { name: 'w/kept.txt', data: Buffer.from('kept') },
        ],
        { name: 'w/big.bin', data: Buffer.alloc(2 * 1024 * 1024, 7), sent: 1536 * 1024 },
        [{ name: 'w/after.txt', data: Buffer.from('after') }],
      );

    /**
     * Streams `head`, then ZIP_WITHDRAW naming `offset`, then `tail` and ZIP_END (unless the
     * receiver failed it first). Returns ZIP_ACCEPT's header and the verdict.
     */
    async function sendWithdrawing(zip: WithdrawnArchive, offer: boolean, offset = zip.offset) {
      const channel = await open(offer);
      await channel.send({ type: 'ZIP_META', root: 'w', files: 3, dirs: 1, bytes: 2 * 1024 * 1024 + 9 });
      const accept = (await channel.next(['ZIP_ACCEPT'])).header;
      const stream = streamUntilVerdict(channel);
      // Over 1 MiB of big.bin comes before the withdrawal: the receiver has a real partial file to delete.
      await stream.data(zip.head);
      await stream.send({ type: 'ZIP_WITHDRAW', offset, reason: 'it changed' });
      await stream.data(zip.tail);
      await stream.end(Buffer.concat([zip.head, zip.tail]));
      return { accept, answer: await stream.answer };
    }

    it('offered: the withdrawn file is deleted from the temporary directory, the rest lands', async () => {
      const { accept, answer } = await sendWithdrawing(await archive(), true);
      expect(accept).toEqual({ type: 'ZIP_ACCEPT', withdraw: true });
      expect(answer).toMatchObject({ type: 'ZIP_VERIFIED', saved_as: 'w', files: 2, bytes: 9 });
      expect(await listTree(join(downloads(), 'w'))).toEqual(['after.txt', 'kept.txt']);
      await rm(join(downloads(), 'w'), { recursive: true });
      await expectNothingWritten();
    });

    it('not offered: ZIP_ACCEPT says nothing of withdrawals, and a ZIP_WITHDRAW fails the folder', async () => {
      const { accept, answer } = await sendWithdrawing(await archive(), false);
      expect(accept).toEqual({ type: 'ZIP_ACCEPT' });
      expect(answer).toMatchObject({
        type: 'ZIP_FAILED',
        code: 'PROTOCOL',
        reason: 'ZIP_WITHDRAW from a sender that did not offer withdrawals',
      });
      await expectNothingWritten();
    });

    it.each([
      ['an entry already extracted (the folder itself)', 0],
      ['the entry before', 'before'],
      ['an offset inside the current entry', 'inside'],
      ['an offset past the end', 2 ** 40],
    ] as const)('a withdrawal naming %s fails the folder; nothing else is touched', async (_, which) => {
      const zip = await archive();
      const offset =
        which === 'before' ? nth(zip.head, 0x04034b50, 1) : which === 'inside' ? zip.offset + 1 : which;
      const { answer } = await sendWithdrawing(zip, true, offset);
      expect(answer).toMatchObject({ type: 'ZIP_FAILED', code: 'PROTOCOL' });
      expect(String(answer.reason)).toMatch(
        new RegExp(`withdrew the entry at offset ${offset}, but the entry being received is "w/big.bin"`),
      );
      await expectNothingWritten();
    });

    it('a withdrawal between entries (no file data being received) fails the folder', async () => {
      const zip = await archive();
      const cut: WithdrawnArchive = {
        head: zip.head.subarray(0, zip.offset),
        offset: zip.offset,
        tail: zip.tail,
      };
      const { answer } = await sendWithdrawing(cut, true);
      expect(answer).toMatchObject({
        type: 'ZIP_FAILED',
        code: 'PROTOCOL',
        reason: `the sender withdrew the entry at offset ${zip.offset} while no file's data was being received`,
      });
      await expectNothingWritten();
    });
  });
});
