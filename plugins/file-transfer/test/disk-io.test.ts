import { mkdtemp, open, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChunkReader,
  SequentialWriter,
  ShortFileError,
  TaskPool,
  Writeback,
  writeFully,
} from '../src/disk-io.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'disk-io-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const pattern = (size: number) =>
  Buffer.from(Array.from({ length: size }, (_, i) => (i * 7 + (i >> 8)) & 0xff));

describe('ChunkReader', () => {
  it('reads a range in chunks through recycled buffers, with the right bytes every time', async () => {
    const data = pattern(10 * 4096 + 123);
    const path = join(dir, 'range.bin');
    await writeFile(path, data);
    const handle = await open(path, 'r');
    try {
      const reader = new ChunkReader(handle, 1000, data.length, 4096);
      const seen: Buffer[] = [];
      const buffers = new Set<ArrayBufferLike>();
      for (let chunk = await reader.next(); chunk; chunk = await reader.next()) {
        seen.push(Buffer.from(chunk));
        buffers.add(chunk.buffer);
        reader.recycle(chunk);
      }
      expect(Buffer.concat(seen).equals(data.subarray(1000))).toBe(true);
      expect(seen.every((chunk, i) => i === seen.length - 1 || chunk.length === 4096)).toBe(true);
      // One chunk in hand, one read ahead, one spare: never a fresh buffer per chunk.
      expect(buffers.size).toBeLessThanOrEqual(3);
    } finally {
      await handle.close();
    }
  });

  it('throws ShortFileError when the file is shorter than the range (it shrank)', async () => {
    const path = join(dir, 'shrinks.bin');
    await writeFile(path, pattern(3 * 4096));
    const handle = await open(path, 'r');
    try {
      const reader = new ChunkReader(handle, 0, 3 * 4096, 4096);
      expect((await reader.next())?.length).toBe(4096);
      await truncate(path, 4096 + 10);
      await expect(
        (async () => {
          while (await reader.next());
        })(),
      ).rejects.toBeInstanceOf(ShortFileError);
    } finally {
      await handle.close();
    }
  });
});

describe('TaskPool', () => {
  it('never runs more than its limit at once', async () => {
    const pool = new TaskPool(2);
    let running = 0;
    let peak = 0;
    for (let i = 0; i < 8; i++)
      await pool.run(async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
      });
    await pool.drain();
    expect(peak).toBe(2);
  });

  it('reports the first failure at the next run or drain, never as an unhandled rejection', async () => {
    const pool = new TaskPool(1);
    await pool.run(() => Promise.reject(new Error('disk on fire')));
    await expect(pool.run(async () => {})).rejects.toThrow('disk on fire');
    await expect(pool.drain()).rejects.toThrow('disk on fire');
    await expect(pool.settled()).resolves.toBeUndefined();
  });
});

describe('writeFully', () => {
  it('writes at the given positions', async () => {
    const path = join(dir, 'written.bin');
    const handle = await open(path, 'w+');
    try {
      await writeFully(handle, Buffer.from('world'), 6);
      await writeFully(handle, Buffer.from('hello '), 0);
      const back = Buffer.alloc(11);
      await handle.read(back, 0, 11, 0);
      expect(back.toString()).toBe('hello world');
    } finally {
      await handle.close();
    }
  });
});

describe('Writeback', () => {
  /** A real file handle whose datasync calls are counted and can be made to fail. */
  async function countingHandle(path: string, failWith?: Error) {
    const handle = await open(path, 'w+');
    const calls = { datasync: 0 };
    const datasync = handle.datasync.bind(handle);
    handle.datasync = () => {
      calls.datasync++;
      return failWith ? Promise.reject(failWith) : datasync();
    };
    return { handle, calls };
  }

  it('flushes in the background once `every` bytes were written, one flush at a time', async () => {
    const { handle, calls } = await countingHandle(join(dir, 'flushed.bin'));
    try {
      const writeback = new Writeback(handle, 8192);
      await writeFully(handle, pattern(4096), 0);
      writeback.wrote(4096);
      expect(calls.datasync).toBe(0);
      await writeFully(handle, pattern(4096), 4096);
      writeback.wrote(4096);
      expect(calls.datasync).toBe(1);
      // A flush is running: the next threshold waits for it rather than stacking another.
      writeback.wrote(8192);
      expect(calls.datasync).toBe(1);
      await writeback.sync();
      writeback.wrote(8192);
      expect(calls.datasync).toBe(2);
      await writeback.sync();
    } finally {
      await handle.close();
    }
  });

  it('throws what a background flush met at sync, never as an unhandled rejection', async () => {
    const failure = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    const { handle } = await countingHandle(join(dir, 'failing.bin'), failure);
    try {
      const writeback = new Writeback(handle, 1);
      writeback.wrote(1);
      await writeback.settled();
      expect(writeback.failure).toBe(failure);
      await expect(writeback.sync()).rejects.toBe(failure);
    } finally {
      await handle.close();
    }
  });

  it('sync waits for a flush still running and throws what it met', async () => {
    const failure = Object.assign(new Error('ENOSPC: no space left on device, fdatasync'), {
      code: 'ENOSPC',
    });
    const handle = await open(join(dir, 'late-failure.bin'), 'w+');
    handle.datasync = () => new Promise((_, reject) => setTimeout(() => reject(failure), 50));
    try {
      const writeback = new Writeback(handle, 1);
      writeback.wrote(1);
      await expect(writeback.sync()).rejects.toBe(failure);
    } finally {
      await handle.close();
    }
  });
});

describe('SequentialWriter', () => {
  it('writes pieces one after another from its start, telling when each is in the file', async () => {
    const handle = await open(join(dir, 'sequential.bin'), 'w+');
    try {
      await handle.write(Buffer.from('kept '), 0, 5, 0);
      const writer = new SequentialWriter(handle, 5);
      const written: string[] = [];
      for (const piece of ['hello', ' ', 'world'])
        await writer.write(Buffer.from(piece), () => written.push(piece));
      await writer.sync();
      expect(written).toEqual(['hello', ' ', 'world']);
      const back = Buffer.alloc(16);
      const { bytesRead } = await handle.read(back, 0, 16, 0);
      expect(back.subarray(0, bytesRead).toString()).toBe('kept hello world');
    } finally {
      await handle.close();
    }
  });

  it('stops at the next write after a failed flush, and reports it once settled', async () => {
    const failure = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    const handle = await open(join(dir, 'sequential-failing.bin'), 'w+');
    handle.datasync = () => Promise.reject(failure);
    try {
      const writer = new SequentialWriter(handle);
      // 64 MiB: the first background flush starts, and fails.
      const big = Buffer.alloc(64 * 1024 * 1024);
      await writer.write(big);
      await writer.drain();
      await writer.write(Buffer.from('more'));
      await expect(writer.drain()).rejects.toBe(failure);
      expect(await writer.settled()).toBe(failure);
    } finally {
      await handle.close();
    }
  });
});
