import { randomBytes } from 'node:crypto';
import { readdirSync, readlinkSync, statSync } from 'node:fs';
import { access, mkdir, open, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { TempDirs } from '../../../packages/host/test/helpers/cli.js';
import { Extractor } from '../src/extract.js';

const dirs = new TempDirs();
afterAll(() => dirs.cleanup());
afterEach(() => vi.restoreAllMocks());

async function* pieces(data: Buffer, size: number): AsyncIterable<Buffer> {
  for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size);
}

/** Every FileHandle shares one prototype: its sync and datasync, to count or to make fail. */
async function handlePrototype(dir: string) {
  const probe = await open(join(dir, 'probe'), 'w');
  const proto = Object.getPrototypeOf(probe) as { sync(): Promise<void>; datasync(): Promise<void> };
  await probe.close();
  return proto;
}

/** Descriptors this process holds open below `dir`. */
function openBelow(dir: string): string[] {
  return readdirSync('/proc/self/fd')
    .map((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return '';
      }
    })
    .filter((target) => target.startsWith(dir));
}

const eio = () => Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });

async function workspace() {
  const base = await dirs.make('extract-');
  const temp = join(base, 'temp');
  const downloads = join(base, 'downloads');
  await mkdir(temp);
  await mkdir(downloads);
  return { base, temp, downloads };
}

// Descriptors are resolved to paths through /proc.
describe.skipIf(process.platform !== 'linux')('Extractor', () => {
  it('makes every file and directory durable before the folder is announced', async () => {
    const { base, temp, downloads } = await workspace();
    const proto = await handlePrototype(base);
    // What each sync covered: the path behind the descriptor and, for `sync`, its mode then.
    const synced: string[] = [];
    const record = (kind: string, original: () => Promise<void>) =>
      function (this: { fd: number }) {
        const path = readlinkSync(`/proc/self/fd/${this.fd}`);
        const mode = (statSync(path).mode & 0o777).toString(8);
        synced.push(`${kind} ${relative(base, path) || '.'} ${mode}`);
        return original.call(this);
      };
    const { sync, datasync } = proto;
    vi.spyOn(proto, 'sync').mockImplementation(record('sync', sync));
    vi.spyOn(proto, 'datasync').mockImplementation(record('datasync', datasync));

    const big = randomBytes(3 * 1024 * 1024);
    const extractor = new Extractor(temp);
    const now = Date.now();
    await extractor.file(['a.txt'], now, pieces(Buffer.from('alpha'), 5));
    await extractor.directory(['sub'], now);
    await extractor.file(['sub', 'b.txt'], now, pieces(Buffer.from('beta'), 4));
    await extractor.file(['big.bin'], now, pieces(big, 256 * 1024));
    await extractor.finish(
      [
        { name: 'root/', kind: 'directory', mode: 0o755 },
        { name: 'root/a.txt', kind: 'file', mode: 0o644 },
        { name: 'root/sub/', kind: 'directory', mode: 0o755 },
        { name: 'root/sub/b.txt', kind: 'file', mode: 0o600 },
        { name: 'root/big.bin', kind: 'file', mode: 0o644 },
      ],
      'root',
    );
    const placed = await extractor.place(downloads, 'root');

    // Small files: fdatasync before close. The large file: fsync at its end (Writeback).
    // Directories once their final modes are set: the folder's own and `sub`, then the download
    // directory after the move.
    expect(synced.sort()).toEqual(
      [
        'datasync temp/a.txt 600',
        'datasync temp/sub/b.txt 600',
        'sync temp/big.bin 600',
        'sync temp/sub 755',
        'sync temp 755',
        'sync downloads 755',
      ].sort(),
    );
    expect(placed).toBe('root');
    expect(await readFile(join(downloads, 'root', 'sub', 'b.txt'), 'utf8')).toBe('beta');
    expect((await readFile(join(downloads, 'root', 'big.bin'))).equals(big)).toBe(true);
  });

  it('a failed sync fails the folder and leaves no file open', async () => {
    const { base, temp } = await workspace();
    vi.spyOn(await handlePrototype(base), 'datasync').mockRejectedValue(eio());
    const extractor = new Extractor(temp);
    await extractor.file(['a.txt'], Date.now(), pieces(Buffer.from('alpha'), 5));
    // The small file's sync fails in the pool; the large file that follows must not stay open.
    await expect(
      extractor.file(['big.bin'], Date.now(), pieces(randomBytes(2 * 1024 * 1024), 256 * 1024)),
    ).rejects.toMatchObject({ code: 'EIO' });
    await extractor.abandon();
    expect(openBelow(base)).toEqual([]);
  });

  it('takes the folder back out of the download directory when the move cannot be made durable', async () => {
    const { base, temp, downloads } = await workspace();
    const proto = await handlePrototype(base);
    const extractor = new Extractor(temp);
    await extractor.file(['a.txt'], Date.now(), pieces(Buffer.from('alpha'), 5));
    await extractor.finish([{ name: 'root/a.txt', kind: 'file', mode: 0o644 }], 'root');
    vi.spyOn(proto, 'sync').mockRejectedValue(eio());
    await expect(extractor.place(downloads, 'root')).rejects.toMatchObject({ code: 'EIO' });
    expect(readdirSync(downloads)).toEqual([]);
    await access(join(temp, 'a.txt'));
  });
});
