import { randomBytes } from 'node:crypto';
import { mkdir, readFile, truncate, writeFile } from 'node:fs/promises';
import type net from 'node:net';
import { join } from 'node:path';
import { FrameChannel, MessageRegistry, WireError } from '@mesh-agent/host';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TempDirs } from '../../../packages/host/test/helpers/cli.js';
import { socketPair } from '../../../packages/host/test/wire/helpers.js';
import { Extractor } from '../src/extract.js';
import { registerZipMessages, ZIP_WITHDRAW } from '../src/protocol.js';
import { sendFolder } from '../src/sender.js';
import { walkFolder } from '../src/tree.js';
import { type ByteSource, EntryWithdrawn } from '../src/zip/input.js';
import { DEFAULT_LIMITS, ZipError } from '../src/zip/limits.js';
import { ZipStreamReader } from '../src/zip/reader.js';
import { listTree } from './helpers/agents.js';
import { zipWithWithdrawal } from './helpers/zip-bytes.js';

const dirs = new TempDirs();
const sockets: net.Socket[] = [];
afterAll(() => dirs.cleanup());
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.destroy();
});

function registry(): MessageRegistry {
  const messages = new MessageRegistry();
  registerZipMessages(messages);
  return messages;
}

const MTIME = 1_700_000_000_000;

/** What a producer put on the wire: ZIP bytes, with the withdrawals between them. */
type Piece = Buffer | EntryWithdrawn;

/** `a.txt`, then `big.bin` withdrawn after `sent` of its bytes, then `c.txt`, as they went out. */
async function archiveWithWithdrawal(compress: boolean, sent: number): Promise<Piece[]> {
  const { head, offset, tail } = await zipWithWithdrawal(
    [{ name: 'r/a.txt', data: Buffer.from('hello'), compress }],
    { name: 'r/big.bin', data: randomBytes(4 * 1024 * 1024), sent, compress },
    [{ name: 'r/c.txt', data: Buffer.from('bye'), compress }],
  );
  return [head, new EntryWithdrawn(offset, 'it changed while it was being sent'), tail];
}

async function* once(data: Buffer): AsyncGenerator<Buffer> {
  yield data;
}

/** Hands out the pieces in odd-sized bits; a withdrawal is thrown where it was sent. */
function sourceOfPieces(pieces: Piece[], bit = 50_001): ByteSource {
  const queue: Piece[] = [];
  for (const piece of pieces) {
    if (piece instanceof EntryWithdrawn) queue.push(piece);
    else for (let at = 0; at < piece.length; at += bit) queue.push(piece.subarray(at, at + bit));
  }
  return {
    async next() {
      const piece = queue.shift();
      if (piece instanceof EntryWithdrawn) throw piece;
      return piece;
    },
  };
}

/** Reads every entry; a withdrawn one is listed with `withdrawn: true`. */
async function readWithWithdrawals(source: ByteSource) {
  const reader = new ZipStreamReader(source, DEFAULT_LIMITS);
  const read: Array<{ name: string; data?: Buffer; withdrawn?: true }> = [];
  for (;;) {
    const next = await reader.next();
    if (!next) break;
    const parts: Buffer[] = [];
    try {
      for await (const piece of next.data) parts.push(Buffer.from(piece));
      read.push({ name: next.entry.name, data: Buffer.concat(parts) });
    } catch (error) {
      if (!(error instanceof EntryWithdrawn)) throw error;
      read.push({ name: next.entry.name, withdrawn: true });
    }
  }
  return { read, central: await reader.central() };
}

describe('ZIP_WITHDRAW and ZIP_ACCEPT headers', () => {
  const messages = registry();
  const check =
    (header: Record<string, unknown>, body = Buffer.alloc(0)) =>
    () =>
      messages.validate({ header: header as never, body });

  it('accepts a withdrawal naming an offset with a reason', () => {
    expect(check({ type: ZIP_WITHDRAW, offset: 123, reason: 'it changed' })).not.toThrow();
  });

  it.each<[string, Record<string, unknown>]>([
    ['no offset', { reason: 'x' }],
    ['no reason', { offset: 1 }],
    ['a negative offset', { offset: -1, reason: 'x' }],
    ['a fractional offset', { offset: 1.5, reason: 'x' }],
    ['an offset past 2^53', { offset: 2 ** 60, reason: 'x' }],
    ['an offset as a string', { offset: '1', reason: 'x' }],
    ['a reason over 1024 characters', { offset: 1, reason: 'x'.repeat(1025) }],
    ['an unknown field (a path to delete)', { offset: 1, reason: 'x', path: '../../etc' }],
  ])('refuses a withdrawal with %s', (_, fields) => {
    expect(check({ type: ZIP_WITHDRAW, ...fields })).toThrow(WireError);
  });

  it('refuses a withdrawal that carries a body', () => {
    expect(check({ type: ZIP_WITHDRAW, offset: 1, reason: 'x' }, Buffer.from('data'))).toThrow(
      /takes no body/,
    );
  });

  it('ZIP_ACCEPT: empty (older receivers) or withdraw: true; nothing else', () => {
    expect(check({ type: 'ZIP_ACCEPT' })).not.toThrow();
    expect(check({ type: 'ZIP_ACCEPT', withdraw: true })).not.toThrow();
    expect(check({ type: 'ZIP_ACCEPT', withdraw: 'yes' })).toThrow(WireError);
    expect(check({ type: 'ZIP_ACCEPT', other: 1 })).toThrow(WireError);
  });
});

describe('ZipStreamReader with a withdrawn entry', () => {
  it.each([
    ['stored', false, 1024 * 1024],
    ['stored, none of its data sent', false, 0],
    ['deflated', true, 1024 * 1024],
  ])(
    'drops the %s entry and reads on; the central directory leaves it out',
    async (_, compress, failAfter) => {
      const pieces = await archiveWithWithdrawal(compress as boolean, failAfter as number);
      const { read, central } = await readWithWithdrawals(sourceOfPieces(pieces));
      expect(read).toEqual([
        { name: 'r/a.txt', data: Buffer.from('hello') },
        { name: 'r/big.bin', withdrawn: true },
        { name: 'r/c.txt', data: Buffer.from('bye') },
      ]);
      expect(central.map((entry) => entry.name)).toEqual(['r/a.txt', 'r/c.txt']);
    },
  );

  it('refuses a withdrawal naming an entry other than the one being read', async () => {
    const pieces = await archiveWithWithdrawal(false, 1024);
    const at = pieces.findIndex((piece) => piece instanceof EntryWithdrawn);
    for (const offset of [0, (pieces[at] as EntryWithdrawn).offset + 1, 10 ** 12]) {
      pieces[at] = new EntryWithdrawn(offset, 'x');
      const error = await readWithWithdrawals(sourceOfPieces(pieces)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ZipError);
      expect((error as ZipError).code).toBe('PROTOCOL');
      expect((error as ZipError).message).toMatch(
        new RegExp(`withdrew the entry at offset ${offset}, but the entry being received is "r/big.bin"`),
      );
    }
  });

  it('refuses a withdrawal between entries (no entry data being read)', async () => {
    const pieces = await archiveWithWithdrawal(false, 1024);
    // Before the first entry's header: not inside any entry's data.
    const error = await readWithWithdrawals(
      sourceOfPieces([new EntryWithdrawn(0, 'x'), ...pieces.filter((p) => Buffer.isBuffer(p))]),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EntryWithdrawn);
  });
});

describe('Extractor when an entry is withdrawn', () => {
  it('deletes what it wrote of that entry only, and counts only what it kept', async () => {
    const base = await dirs.make('withdraw-extract-');
    const temp = join(base, 'temp');
    await mkdir(temp);
    const outside = join(base, 'outside.txt');
    await writeFile(outside, 'not part of any transfer');
    const extractor = new Extractor(temp);
    await extractor.file(['kept.txt'], MTIME, once(Buffer.from('kept')));
    const big = randomBytes(3 * 1024 * 1024); // past the in-memory size: a real file is written
    for (const name of ['big.bin', 'small.bin']) {
      const sent = name === 'big.bin' ? big : big.subarray(0, 1000);
      const failing = (async function* () {
        yield sent;
        throw new EntryWithdrawn(0, 'it changed');
      })();
      await expect(extractor.file(['sub', name], MTIME, failing)).rejects.toBeInstanceOf(EntryWithdrawn);
    }
    await extractor.file(['after.txt'], MTIME, once(Buffer.from('after')));
    await extractor.finish([], 'r');
    expect({ files: extractor.files, bytes: extractor.bytes }).toEqual({ files: 2, bytes: 9 });
    expect(await listTree(temp)).toEqual(['after.txt', 'kept.txt', 'sub/']);
    expect(await readFile(outside, 'utf8')).toBe('not part of any transfer');
  });
});

describe('sendFolder and the withdrawal gate', () => {
  /**
   * Sends a folder whose 48 MiB file is cut to 1000 bytes once its first data frame arrived, to a
   * stand-in receiver that answers ZIP_ACCEPT with `accept` and records the frames.
   */
  async function sendChanging(accept: Record<string, unknown>) {
    const root = join(await dirs.make('withdraw-send-'), 'r');
    await mkdir(root);
    await writeFile(join(root, 'a.txt'), 'first');
    await writeFile(join(root, 'big.bin'), randomBytes(48 * 1024 * 1024));
    await writeFile(join(root, 'c.txt'), 'last');
    const [a, b] = await socketPair();
    sockets.push(a, b);
    const sender = new FrameChannel(a, { registry: registry() });
    const receiver = new FrameChannel(b, { registry: registry() });
    const frames: Array<{ type: string; offset?: number; code?: string; bytes?: number }> = [];
    const pieces: Piece[] = [];
    const receiving = (async () => {
      await receiver.next(['ZIP_META']);
      await receiver.send({ type: 'ZIP_ACCEPT', ...accept });
      let cut = false;
      for (;;) {
        const frame = await receiver.next(['ZIP_DATA', 'ZIP_WITHDRAW', 'ZIP_END', 'ZIP_ABORT']);
        const { type } = frame.header;
        if (type === 'ZIP_DATA') pieces.push(Buffer.from(frame.body));
        if (type === 'ZIP_WITHDRAW') pieces.push(new EntryWithdrawn(Number(frame.header.offset), 'x'));
        frames.push({ ...(frame.header as { type: string }), bytes: frame.body.length });
        if (type === 'ZIP_DATA' && !cut && frame.body.length >= 1024 * 1024) {
          cut = true;
          await truncate(join(root, 'big.bin'), 1000);
        }
        if (type === 'ZIP_ABORT') return;
        if (type === 'ZIP_END') {
          await receiver.send({
            type: 'ZIP_VERIFIED',
            hash: frame.header.hash,
            saved_as: 'r',
            files: 2,
            bytes: 9,
          });
          return;
        }
      }
    })();
    const sending = sendFolder(sender, await walkFolder(root, 'skip'), { compress: false });
    const [sent] = await Promise.allSettled([sending, receiving]);
    return { sent, frames, pieces };
  }

  it('a receiver that takes withdrawals: the file is withdrawn, the rest sent', async () => {
    const { sent, frames, pieces } = await sendChanging({ withdraw: true });
    expect(sent.status).toBe('fulfilled');
    const result = (sent as PromiseFulfilledResult<Awaited<ReturnType<typeof sendFolder>>>).value;
    expect(result).toMatchObject({
      files: 2,
      bytes: 9,
      skipped: [{ path: 'big.bin', reason: 'it changed while it was being sent' }],
    });
    expect(frames.filter((f) => f.type === 'ZIP_WITHDRAW')).toHaveLength(1);
    // What went out is a sound archive once the withdrawal is applied.
    const { read, central } = await readWithWithdrawals(sourceOfPieces(pieces));
    expect(read.map((entry) => [entry.name, entry.withdrawn ?? entry.data?.toString()])).toEqual([
      ['r/', ''],
      ['r/a.txt', 'first'],
      ['r/big.bin', true],
      ['r/c.txt', 'last'],
    ]);
    expect(central.map((entry) => entry.name)).toEqual(['r/', 'r/a.txt', 'r/c.txt']);
  }, 60_000);

  it('a receiver that does not (an older one): the folder fails with CHANGED, as before', async () => {
    const { sent, frames } = await sendChanging({});
    expect(sent.status).toBe('rejected');
    expect((sent as PromiseRejectedResult).reason).toMatchObject({ code: 'CHANGED' });
    expect(frames.some((f) => f.type === 'ZIP_WITHDRAW')).toBe(false);
    expect(frames.at(-1)).toMatchObject({ type: 'ZIP_ABORT', code: 'CHANGED' });
  }, 60_000);
});
