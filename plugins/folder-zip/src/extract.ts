import { constants } from 'node:fs';
import { mkdir, open, rename, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import {
  MAX_NAME_BYTES,
  openPlainDirectory,
  openPlainFile,
  receivedMode,
  SequentialWriter,
  setModeAndTime,
  syncDirectory,
  TaskPool,
  writeFully,
} from '@mesh-agent/plugin-file-transfer';
import { ZipError } from './zip/limits.js';
import type { CentralEntry } from './zip/reader.js';

/** Files whose data fits in this many bytes are written by a pool of concurrent writes. */
const SMALL_FILE = 1024 * 1024;
const CONCURRENCY = 16;
const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** A file's data as `receive` leaves it: in memory (small) or written to an open file. */
interface Received {
  held: Buffer[];
  heldBytes: number;
  file: SequentialWriter | undefined;
}

interface Node {
  kind: 'file' | 'dir';
  /** Listed by its own entry (a directory may first appear as a parent of a file). */
  explicit: boolean;
  mtimeMs: number;
}

/**
 * Writes entries into a private temporary directory. Only plain files and directories are ever
 * created (O_EXCL | O_NOFOLLOW, mkdir without `recursive`): no links, no overwriting, and an
 * entry listed twice, or inside a path that is a file, is refused. Modes and mtimes are set by
 * `finish`, once the central directory (where ZIP keeps modes) has been read and checked.
 */
export class Extractor {
  private readonly nodes = new Map<string, Node>([
    ['', { kind: 'dir', explicit: false, mtimeMs: Date.now() }],
  ]);
  private readonly pool = new TaskPool(CONCURRENCY);
  files = 0;
  bytes = 0;

  constructor(
    readonly dir: string,
    private readonly onProgress: (files: number, bytes: number) => void = () => {},
  ) {}

  async directory(parts: string[], mtimeMs: number): Promise<void> {
    const key = parts.join('/');
    const existing = this.nodes.get(key);
    if (existing?.explicit || existing?.kind === 'file') throw duplicate(key);
    await this.parents(parts);
    if (existing) {
      existing.explicit = true;
      existing.mtimeMs = mtimeMs;
      return;
    }
    await mkdir(join(this.dir, ...parts), { mode: 0o700 });
    this.nodes.set(key, { kind: 'dir', explicit: true, mtimeMs });
  }

  /**
   * Consumes `data` fully (the reader checks CRC and sizes at its end) and writes it. When `data`
   * fails (the sender withdrew this entry, or the folder fails), what was written of this file is
   * deleted and its name forgotten: this entry is the only one a withdrawal can touch.
   */
  async file(parts: string[], mtimeMs: number, data: AsyncIterable<Buffer>): Promise<void> {
    const key = parts.join('/');
    if (parts.length === 0 || this.nodes.has(key)) throw duplicate(key || '(the folder itself)');
    await this.parents(parts);
    this.nodes.set(key, { kind: 'file', explicit: true, mtimeMs });
    const path = join(this.dir, ...parts);
    let received: Received;
    try {
      received = await this.receive(path, data);
    } catch (error) {
      this.nodes.delete(key);
      await unlink(path).catch((failure: NodeJS.ErrnoException) => {
        if (failure.code !== 'ENOENT') throw failure;
      });
      throw error;
    }
    const { held, heldBytes, file } = received;
    if (file) {
      // Its fsync runs in the pool (finish waits for it) while the next entries arrive.
      try {
        await this.pool.run(async () => {
          try {
            await file.sync();
          } finally {
            await file.handle.close();
          }
        });
      } catch (error) {
        // The pool refused the task (an earlier file failed): the file is still ours to close.
        await file.handle.close().catch(() => {});
        throw error;
      }
      this.bytes += heldBytes;
      this.files++;
      this.onProgress(this.files, this.bytes);
      return;
    }
    await this.pool.run(async () => {
      const small = await open(path, CREATE_FLAGS, 0o600);
      try {
        let at = 0;
        for (const part of held) {
          await writeFully(small, part, at);
          at += part.length;
        }
        await small.datasync();
      } finally {
        await small.close();
      }
      this.files++;
      this.bytes += heldBytes;
      this.onProgress(this.files, this.bytes);
    });
  }

  /**
   * Reads `data` to its end: kept in memory while it fits in SMALL_FILE, else written to a file
   * created at `path`, returned with every write done. On failure that file is closed and its
   * bytes no longer counted.
   */
  private async receive(path: string, data: AsyncIterable<Buffer>): Promise<Received> {
    const held: Buffer[] = [];
    let heldBytes = 0;
    let file: SequentialWriter | undefined;
    let counted = 0;
    try {
      for await (const piece of data) {
        if (!file && heldBytes + piece.length <= SMALL_FILE) {
          // Copied: the reader may hand out views of a frame it reuses.
          held.push(Buffer.from(piece));
          heldBytes += piece.length;
          continue;
        }
        if (!file) {
          file = new SequentialWriter(await open(path, CREATE_FLAGS, 0o600));
          for (const part of held.splice(0)) await file.write(part);
        }
        await file.write(piece);
        this.bytes += piece.length;
        counted += piece.length;
        this.onProgress(this.files, this.bytes);
      }
      await file?.drain();
      return { held, heldBytes, file };
    } catch (error) {
      await file?.settled();
      await file?.handle.close().catch(() => {});
      this.bytes -= counted;
      throw error;
    }
  }

  /** Waits for pending writes, refuses links and special files, then sets modes and mtimes deepest first. */
  async finish(central: CentralEntry[], root: string): Promise<void> {
    await this.pool.drain();
    const modes = new Map<string, number | undefined>();
    for (const entry of central) {
      if (entry.kind === 'symlink' || entry.kind === 'special')
        throw new ZipError(
          'UNSAFE_ENTRY',
          `entry ${JSON.stringify(entry.name)} is a ${entry.kind === 'symlink' ? 'symbolic link' : 'special file (device, FIFO, socket or link)'}; only files and directories are extracted`,
        );
      const name = entry.name.endsWith('/') ? entry.name.slice(0, -1) : entry.name;
      modes.set(name === root ? '' : name.slice(root.length + 1), entry.mode);
    }
    const keys = [...this.nodes.keys()].filter((k) => k !== '').sort((a, b) => depth(b) - depth(a));
    for (let at = 0; at < keys.length; at += CONCURRENCY)
      await Promise.all(keys.slice(at, at + CONCURRENCY).map((key) => this.settle(key, modes.get(key))));
    this.rootMode = modes.get('');
    // Durable before the sender hears "verified": each file's data was synced when it was closed;
    // a directory's fsync makes its entries durable and, on journaling filesystems, commits the
    // modes and times set above.
    const dirs = ['', ...keys.filter((key) => this.nodes.get(key)?.kind === 'dir')];
    for (let at = 0; at < dirs.length; at += CONCURRENCY)
      await Promise.all(
        dirs.slice(at, at + CONCURRENCY).map((key) => syncDirectory(join(this.dir, ...key.split('/')))),
      );
  }

  private rootMode: number | undefined;

  /**
   * Moves the finished folder into `downloadDir` as `root`, or `root (1)` … when taken, never
   * replacing anything: an empty directory of the chosen name is created first (mkdir fails if
   * the name exists), and rename(2) only replaces an empty directory. Returns the name used.
   */
  async place(downloadDir: string, root: string): Promise<string> {
    for (let n = 0; n < 10_000; n++) {
      const name = n === 0 ? root : numberedDirName(root, n);
      const target = join(downloadDir, name);
      try {
        await mkdir(target, { mode: 0o700 });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw error;
      }
      try {
        await rename(this.dir, target);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOTEMPTY' || code === 'EEXIST') continue;
        await rmdir(target).catch(() => {});
        throw error;
      }
      try {
        // The top directory's mode and time last: moving it changed its time.
        await this.settleAt(target, this.rootMode, 'dir', this.nodes.get('')?.mtimeMs ?? Date.now());
        // Makes the move durable, and on journaling filesystems the top directory's mode and time.
        await syncDirectory(downloadDir);
      } catch (error) {
        // Not announced, so not kept: back where the failure path removes it.
        await rename(target, this.dir).catch(() => {});
        throw error;
      }
      return name;
    }
    throw new Error(`${root}: 10000 folders of that name exist already`);
  }

  private async settle(key: string, mode: number | undefined): Promise<void> {
    const node = this.nodes.get(key)!;
    await this.settleAt(join(this.dir, ...key.split('/')), mode, node.kind, node.mtimeMs);
  }

  private async settleAt(
    path: string,
    mode: number | undefined,
    kind: Node['kind'],
    mtimeMs: number,
  ): Promise<void> {
    // Through a descriptor of the entry itself: a link swapped in is never followed.
    const handle = kind === 'dir' ? await openPlainDirectory(path) : await openPlainFile(path);
    try {
      await setModeAndTime(handle, receivedMode(mode, kind), mtimeMs);
    } finally {
      await handle.close();
    }
  }

  /** Creates missing parent directories one level at a time; a parent that is a file is refused. */
  private async parents(parts: string[]): Promise<void> {
    for (let i = 1; i < parts.length; i++) {
      const key = parts.slice(0, i).join('/');
      const node = this.nodes.get(key);
      if (node?.kind === 'file')
        throw new ZipError(
          'UNSAFE_ENTRY',
          `entry ${JSON.stringify(parts.join('/'))} is inside ${JSON.stringify(key)}, which is a file`,
        );
      if (node) continue;
      await mkdir(join(this.dir, ...parts.slice(0, i)), { mode: 0o700 });
      this.nodes.set(key, { kind: 'dir', explicit: false, mtimeMs: Date.now() });
    }
  }

  /** Waits for writes in flight, without throwing, before the directory is removed after a failure. */
  async abandon(): Promise<void> {
    await this.pool.settled();
  }
}

function duplicate(key: string): ZipError {
  return new ZipError('UNSAFE_ENTRY', `entry ${JSON.stringify(key)} appears twice in the archive`);
}

function depth(key: string): number {
  return key.split('/').length;
}

/** `name (n)`, kept within NAME_MAX by shortening the name. */
export function numberedDirName(name: string, n: number): string {
  const suffix = ` (${n})`;
  let stem = name;
  while (stem.length > 0 && Buffer.byteLength(stem + suffix, 'utf8') > MAX_NAME_BYTES)
    stem = Array.from(stem).slice(0, -1).join('');
  return stem + suffix;
}
