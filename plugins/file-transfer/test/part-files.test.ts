import { lstat, mkdir, mkdtemp, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Blake3 } from '../src/hasher.js';
import { receivedMode } from '../src/modes.js';
import { hashPrefix, PARTIAL_DIR, partFilesFor, resumableBytes, writeSidecar } from '../src/part-files.js';
import { sweepExpiredParts } from '../src/part-sweeper.js';
import { NoSpaceError, SpaceReservations } from '../src/space.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'part-files-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const identity = { peer: 'alice', name: 'a.bin', size: 100, mtime: 1_700_000_000_000 };

describe('part files never follow a symlink planted in the download directory', () => {
  it('writes the sidecar as a new file where links stand at its name and its temp name', async () => {
    const downloads = await mkdtemp(join(dir, 'dl-'));
    const files = await partFilesFor(downloads, 'alice', 'a.bin');
    const victims = [join(dir, 'victim-sidecar'), join(dir, 'victim-temp')];
    for (const victim of victims) await writeFile(victim, 'precious');
    await symlink(victims[0] as string, files.sidecar);
    await symlink(victims[1] as string, `${files.sidecar}.tmp`);
    await writeSidecar(files, identity);
    for (const victim of victims) expect(await readFile(victim, 'utf8')).toBe('precious');
    expect((await lstat(files.sidecar)).isFile()).toBe(true);
    expect(JSON.parse(await readFile(files.sidecar, 'utf8'))).toEqual(identity);
  });

  it('offers no resume from a link at the part path, and hashes nothing through one', async () => {
    const downloads = await mkdtemp(join(dir, 'dl-'));
    const files = await partFilesFor(downloads, 'alice', 'a.bin');
    const victim = join(dir, 'victim-part');
    await writeFile(victim, Buffer.alloc(50, 1));
    await writeSidecar(files, identity);
    await symlink(victim, files.part);
    expect(await resumableBytes(files, identity)).toBe(0);
    await expect(hashPrefix(files.part, 50, new Blake3())).rejects.toMatchObject({ code: 'ELOOP' });
    // The same bytes as a plain file are resumable: the link is what was refused.
    await rm(files.part);
    await writeFile(files.part, Buffer.alloc(50, 1));
    expect(await resumableBytes(files, identity)).toBe(50);
  });
});

describe('sweepExpiredParts', () => {
  it('removes an old part with its sidecar, keeps a fresh one and one in use', async () => {
    const downloads = await mkdtemp(join(dir, 'dl-'));
    const hour = 60 * 60_000;
    const old = await partFilesFor(downloads, 'alice', 'old.bin');
    const fresh = await partFilesFor(downloads, 'alice', 'fresh.bin');
    const busy = await partFilesFor(downloads, 'alice', 'busy.bin');
    for (const files of [old, fresh, busy]) {
      await writeFile(files.part, 'x');
      await writeSidecar(files, identity);
    }
    const then = (Date.now() - 3 * hour) / 1000;
    for (const files of [old, busy]) for (const path of Object.values(files)) await utimes(path, then, then);
    const removed = await sweepExpiredParts(downloads, hour, (part) => part === busy.part);
    expect(removed).toEqual([old.part]);
    await expect(stat(old.part)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(stat(old.sidecar)).rejects.toMatchObject({ code: 'ENOENT' });
    for (const files of [fresh, busy]) for (const path of Object.values(files)) await stat(path);
  });

  it('removes a folder an extraction left behind, unless a transfer still claims it', async () => {
    const downloads = await mkdtemp(join(dir, 'dl-'));
    const [left, claimed] = ['0', '1'].map((n) =>
      join(downloads, PARTIAL_DIR, `folder-0000000${n}-0000-4000-8000-000000000000`),
    ) as [string, string];
    for (const folder of [left, claimed]) {
      await mkdir(join(folder, 'sub'), { recursive: true });
      await writeFile(join(folder, 'sub', 'f'), 'x');
      const then = (Date.now() - 3 * 60 * 60_000) / 1000;
      await utimes(folder, then, then);
    }
    expect(await sweepExpiredParts(downloads, 60 * 60_000, (path) => path === claimed)).toEqual([left]);
    await expect(stat(left)).rejects.toMatchObject({ code: 'ENOENT' });
    await stat(join(claimed, 'sub', 'f'));
  });
});

describe('receivedMode', () => {
  it.each([
    [0o4777, 'file', 0o755],
    [0o2666, 'file', 0o644],
    [0o000, 'file', 0o600],
    [0o1777, 'dir', 0o755],
    [0o500, 'dir', 0o700],
    [undefined, 'file', 0o644],
    [undefined, 'dir', 0o755],
  ] as const)('masks %o for a %s to %o', (sent, kind, expected) => {
    expect(receivedMode(sent, kind)).toBe(expected);
  });
});

describe('SpaceReservations', () => {
  it('counts every transfer in progress against the quota, and frees what a transfer releases', async () => {
    const space = new SpaceReservations(dir, 3000);
    const first = await space.reserve(2000);
    await expect(space.reserve(2000)).rejects.toThrow(NoSpaceError);
    await expect(space.reserve(2000)).rejects.toThrow(/hold 2000 of the 3000 bytes/);
    const small = await space.reserve(1000);
    first.release();
    first.release();
    const second = await space.reserve(2000);
    await expect(space.reserve(1)).rejects.toThrow(NoSpaceError);
    small.release();
    second.release();
  });

  it('refuses what the disk cannot hold on top of what is reserved', async () => {
    const space = new SpaceReservations(dir, Number.MAX_SAFE_INTEGER);
    await expect(space.reserve(Number.MAX_SAFE_INTEGER)).rejects.toThrow(/not enough space/);
  });
});
