import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { TempDirs } from '../../../packages/host/test/helpers/cli.js';
import { crc32Of } from '../src/zip/crc32.js';
import { ZipError } from '../src/zip/limits.js';
import { ZipStreamReader } from '../src/zip/reader.js';
import { ZipWriter } from '../src/zip/writer.js';
import { readAll, sourceOf, type TestEntry, zipOf } from './helpers/zip-bytes.js';

const dirs = new TempDirs();
afterAll(() => dirs.cleanup());

const TREE: TestEntry[] = [
  { name: 'root', dir: true, mode: 0o750 },
  { name: 'root/empty', dir: true },
  { name: 'root/bin', dir: true },
  { name: 'root/bin/run.sh', data: Buffer.from('#!/bin/sh\necho hi\n'), mode: 0o755 },
  { name: 'root/Ünïcødé 文件.txt', data: Buffer.from('héllo'.repeat(1000)), compress: true },
  { name: 'root/random.bin', data: randomBytes(300_000) },
  { name: 'root/zero', data: Buffer.alloc(0) },
  { name: 'root/zero-deflated', data: Buffer.alloc(0), compress: true },
  { name: 'root/random-deflated.bin', data: randomBytes(250_000), compress: true },
];

async function pythonCheck(zip: Buffer): Promise<string> {
  const path = join(await dirs.make('zip-py-'), 'a.zip');
  await writeFile(path, zip);
  const script =
    'import zipfile,sys\nz=zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\n' +
    'print("\\n".join("%s %o %d" % (i.filename, i.external_attr >> 16, i.file_size) for i in z.infolist()))';
  return execFileSync('python3', ['-c', script, path], { encoding: 'utf8' });
}

describe('ZipWriter and ZipStreamReader', () => {
  it.each([false, true])(
    'round-trip a tree (forceZip64: %s), read in odd-sized pieces',
    async (forceZip64) => {
      const zip = await zipOf(TREE, { forceZip64 });
      const { entries, central } = await readAll(sourceOf(zip));
      expect(entries.map((e) => e.name)).toEqual(TREE.map((e) => (e.dir ? `${e.name}/` : e.name)));
      for (const [i, e] of TREE.entries()) {
        expect(entries[i]?.data.equals(e.data ?? Buffer.alloc(0))).toBe(true);
        expect(entries[i]?.mtimeMs).toBe(1_700_000_000_000);
      }
      expect(central.find((c) => c.name === 'root/bin/run.sh')).toEqual({
        name: 'root/bin/run.sh',
        kind: 'file',
        mode: 0o755,
      });
      expect(central[0]).toEqual({ name: 'root/', kind: 'directory', mode: 0o750 });
    },
  );

  it.each([false, true])(
    'writes archives Python zipfile and unzip accept (forceZip64: %s)',
    async (forceZip64) => {
      const zip = await zipOf(TREE, { forceZip64 });
      const listing = await pythonCheck(zip);
      expect(listing).toContain('root/bin/run.sh 100755 18');
      expect(listing).toContain('root/Ünïcødé 文件.txt 100644 6000');
      expect(listing).toContain('root/empty/ 40755 0');
      const path = join(await dirs.make('zip-unzip-'), 'a.zip');
      await writeFile(path, zip);
      expect(execFileSync('unzip', ['-tq', path], { encoding: 'utf8' })).toMatch(/No errors detected/);
    },
  );

  it('reads what Info-ZIP zip writes (deflated, data descriptors from a pipe)', async () => {
    const dir = await dirs.make('zip-infozip-');
    await writeFile(join(dir, 'a.txt'), 'alpha '.repeat(5000));
    // `zip -` reads from a pipe-like stdout: it writes data descriptors, as a streaming writer must.
    const zip = execFileSync('sh', ['-c', `cd '${dir}' && zip -q -fd - a.txt | cat`], { maxBuffer: 1 << 24 });
    const { entries } = await readAll(sourceOf(zip));
    expect(entries[0]?.name).toBe('a.txt');
    expect(entries[0]?.data.toString()).toBe('alpha '.repeat(5000));
  });

  it('streams a stored entry over 4 GiB with ZIP64 (sizes, descriptor, offsets, end records)', async () => {
    const size = 4 * 1024 ** 3 + 5 * 1024 ** 2;
    const piece = Buffer.alloc(4 * 1024 * 1024);
    // Writer and reader joined by a one-slot hand-off: nothing of the 4 GiB is kept.
    let slot: Buffer | undefined;
    let done = false;
    const waiters: Array<() => void> = [];
    const wake = () => {
      for (const w of waiters.splice(0)) w();
    };
    const until = async (ok: () => boolean) => {
      while (!ok()) await new Promise<void>((r) => waiters.push(r));
    };
    const writing = (async () => {
      const writer = new ZipWriter(async (chunk) => {
        await until(() => slot === undefined);
        slot = chunk;
        wake();
      });
      await writer.addFile(
        'big.bin',
        { mode: 0o644, mtimeMs: 0, size, compress: false },
        (async function* () {
          for (let at = 0; at < size; at += piece.length)
            yield piece.subarray(0, Math.min(piece.length, size - at));
        })(),
      );
      await writer.addFile(
        'after.txt',
        { mode: 0o644, mtimeMs: 0, size: 5, compress: false },
        (async function* () {
          yield Buffer.from('after');
        })(),
      );
      await writer.finish();
      await until(() => slot === undefined);
      done = true;
      wake();
    })();
    const reader = new ZipStreamReader(
      {
        async next() {
          await until(() => slot !== undefined || done);
          const out = slot;
          slot = undefined;
          wake();
          return out;
        },
      },
      { maxEntries: 10, maxTotalBytes: 5 * 1024 ** 3, maxCompressionRatio: 10, maxPathBytes: 100 },
    );
    const big = await reader.next();
    expect(big?.entry.declaredSize).toBe(size);
    let got = 0;
    for await (const data of big!.data) got += data.length;
    expect(got).toBe(size);
    const after = await reader.next();
    expect(after?.entry.offset).toBeGreaterThan(2 ** 32);
    const chunks: Buffer[] = [];
    for await (const data of after!.data) chunks.push(data);
    expect(Buffer.concat(chunks).toString()).toBe('after');
    expect(await reader.next()).toBeUndefined();
    expect((await reader.central()).map((c) => c.name)).toEqual(['big.bin', 'after.txt']);
    await writing;
  }, 120_000);
});

/** Offset of the first occurrence of a u32 signature. */
function find(zip: Buffer, signature: number, from = 0): number {
  const sig = Buffer.alloc(4);
  sig.writeUInt32LE(signature);
  return zip.indexOf(sig, from);
}

async function readError(zip: Buffer, limits = {}): Promise<ZipError> {
  try {
    await readAll(sourceOf(zip), limits);
  } catch (error) {
    if (error instanceof ZipError) return error;
    throw error;
  }
  throw new Error('the archive was accepted');
}

describe('ZipStreamReader against bad archives', () => {
  const simple = () => zipOf([{ name: 'a.txt', data: Buffer.from('hello world') }]);

  it('fails a truncated archive at every cut point with TRUNCATED', async () => {
    const zip = await simple();
    for (let cut = 1; cut < zip.length; cut += 3) {
      const error = await readError(zip.subarray(0, cut));
      expect(error.code, `cut at ${cut}`).toBe('TRUNCATED');
    }
  });

  it('fails a flipped data byte with a CRC mismatch', async () => {
    const zip = await simple();
    const at = 30 + 'a.txt'.length + 9 + 3; // inside "hello world" (after the 9-byte timestamp extra)
    zip.writeUInt8(zip.readUInt8(at) ^ 1, at);
    const error = await readError(zip);
    expect(error.code).toBe('CORRUPT');
    expect(error.message).toMatch(/CRC-32 mismatch/);
  });

  it('fails an entry whose data exceeds its declared size', async () => {
    const zip = await simple();
    const dataAt = 30 + 5 + 9;
    const longer = Buffer.concat([
      zip.subarray(0, dataAt + 11),
      Buffer.from('EXTRA'),
      zip.subarray(dataAt + 11),
    ]);
    const error = await readError(longer);
    expect(error.code).toBe('CORRUPT');
    expect(error.message).toMatch(/longer than declared/);
  });

  it('fails a deflated entry whose output exceeds the size its header declares', async () => {
    const zip = await zipOf([{ name: 'a.txt', data: Buffer.alloc(5000, 'a'), compress: true }]);
    // Clear bit 3 and declare 100 bytes in the local header (compressed size: the real one).
    const compressed = deflateRawSync(Buffer.alloc(5000, 'a')).length;
    zip.writeUInt16LE(zip.readUInt16LE(6) & ~8, 6);
    zip.writeUInt32LE(compressed, 18);
    zip.writeUInt32LE(100, 22);
    const error = await readError(zip);
    expect(error.message).toMatch(/exceeds its declared size of 100 bytes/);
  });

  it('refuses a decompression bomb by ratio, by total size and by entry count', async () => {
    const bomb = await zipOf([{ name: 'bomb', data: Buffer.alloc(64 * 1024 * 1024), compress: true }]);
    expect(bomb.length).toBeLessThan(200_000);
    const ratio = await readError(bomb, { maxCompressionRatio: 100 });
    expect(ratio.code).toBe('LIMIT');
    expect(ratio.message).toMatch(/decompression bomb/);
    const total = await readError(bomb, { maxTotalBytes: 10 * 1024 * 1024, maxCompressionRatio: 2000 });
    expect(total.message).toMatch(/more than 10485760 bytes/);
    const many = await zipOf(Array.from({ length: 20 }, (_, i) => ({ name: `f${i}` })));
    expect((await readError(many, { maxEntries: 10 })).message).toMatch(/at most 10 are accepted/);
  });

  it('refuses bytes after the end record, and a central directory that disagrees', async () => {
    const zip = await simple();
    expect((await readError(Buffer.concat([zip, Buffer.from('x')]))).message).toMatch(/follow the end/);
    const bad = Buffer.from(zip);
    const central = find(bad, 0x02014b50);
    bad.writeUInt32LE(bad.readUInt32LE(central + 16) ^ 1, central + 16);
    expect((await readError(bad)).message).toMatch(/central directory disagrees/);
  });

  it('refuses encrypted entries, unknown methods, and link extra fields', async () => {
    const zip = await simple();
    const encrypted = Buffer.from(zip);
    encrypted.writeUInt16LE(encrypted.readUInt16LE(6) | 1, 6);
    expect((await readError(encrypted)).message).toMatch(/encrypted/);
    const bzip = Buffer.from(zip);
    bzip.writeUInt16LE(12, 8);
    expect((await readError(bzip)).message).toMatch(/method 12/);
  });

  it('checks CRC-32 against a known value', async () => {
    expect(crc32Of(Buffer.from('123456789'))).toBe(0xcbf43926);
  });
});
