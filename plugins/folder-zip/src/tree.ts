import { lstat, readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { checkFileName, UnsafeNameError } from '@mesh-agent/plugin-file-transfer';
import type { SymlinkPolicy } from './config.js';

export interface TreeEntry {
  /** Path relative to the folder, `/`-separated; '' for the folder itself. */
  rel: string;
  /** Absolute path on disk. */
  path: string;
  kind: 'dir' | 'file';
  /** Permission bits only: set-id and sticky bits are never sent. */
  mode: number;
  mtimeMs: number;
  size: number;
}

/** An entry left out, and why (in words, for the warning and --json). */
export interface SkippedEntry {
  /** Relative to the folder, `/`-separated. */
  path: string;
  reason: string;
}

export interface FolderTree {
  /** The folder's name: the top directory of the archive. */
  root: string;
  entries: TreeEntry[];
  files: number;
  dirs: number;
  bytes: number;
  /**
   * Entries left out: symlinks, special files (sockets, FIFOs, devices), names the receiver would
   * refuse, and (added while sending) files that changed or vanished before they were read.
   */
  skipped: SkippedEntry[];
}

/** Why an entry the sending user may not read is left out. */
export const PERMISSION_DENIED = 'it cannot be read: permission denied';
const VANISHED_WHILE_LISTED = 'it vanished while the folder was listed';

/** A folder that cannot be sent as it is; the message names the path. */
export class FolderTreeError extends Error {
  override name = 'FolderTreeError';
}

/**
 * Lists a folder depth-first, each directory before its contents, names sorted, without following
 * symlinks (lstat): with `skip` they are left out and reported in `skipped`, with `error` the
 * walk stops. A name the receiver would refuse (or that is not UTF-8) is left out with what is
 * under it: the receiver would fail the whole folder on it. Only the folder's own name must pass.
 */
export async function walkFolder(dir: string, symlinks: SymlinkPolicy): Promise<FolderTree> {
  const top = await lstat(dir).catch(() => undefined);
  if (!top) throw new FolderTreeError(`no such folder: ${dir}`);
  if (!top.isDirectory()) throw new FolderTreeError(`${dir} is not a folder (send a file with send-file)`);
  const root = checked(basename(dir), dir);
  const tree: FolderTree = { root, entries: [], files: 0, dirs: 0, bytes: 0, skipped: [] };
  const stack: Array<{ rel: string; path: string }> = [{ rel: '', path: dir }];
  while (stack.length > 0) {
    const { rel, path } = stack.pop()!;
    const info = await lstat(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' && rel) return undefined;
      throw error;
    });
    if (!info) {
      tree.skipped.push({ path: rel, reason: VANISHED_WHILE_LISTED });
      continue;
    }
    if (info.isSymbolicLink()) {
      if (symlinks === 'error')
        throw new FolderTreeError(
          `${path} is a symlink; symlinks are not sent (--symlinks skip leaves them out)`,
        );
      tree.skipped.push({ path: rel, reason: 'a symlink; symlinks are never followed' });
      continue;
    }
    const base = { rel, path, mode: info.mode & 0o777, mtimeMs: info.mtimeMs };
    if (info.isFile()) {
      tree.entries.push({ ...base, kind: 'file', size: info.size });
      tree.files++;
      tree.bytes += info.size;
    } else if (info.isDirectory()) {
      const names = await namesIn(path, rel);
      if (typeof names === 'string') {
        tree.skipped.push({ path: rel, reason: names });
        continue;
      }
      tree.entries.push({ ...base, kind: 'dir', size: 0 });
      tree.dirs++;
      const children: Array<{ rel: string; path: string }> = [];
      for (const raw of names) {
        const name = raw.toString('utf8');
        const child = rel ? `${rel}/${name}` : name;
        const utf8 = Buffer.from(name).equals(raw);
        const unsafe = utf8 ? unsafeName(name) : undefined;
        const reason = utf8
          ? unsafe && `the receiver would refuse it: ${unsafe}`
          : 'its name is not valid UTF-8';
        if (reason) tree.skipped.push({ path: child, reason });
        else children.push({ rel: child, path: join(path, name) });
      }
      // Reversed onto the stack so that they come off in sorted order.
      stack.push(...children.reverse());
    } else {
      tree.skipped.push({ path: rel, reason: 'a socket, FIFO or device' });
    }
  }
  return tree;
}

/**
 * A directory's names, sorted, as bytes (a name that is not UTF-8 would come back mangled and
 * name no file); or, for a directory inside the folder, why it is left out whole. The folder
 * itself must be readable.
 */
async function namesIn(path: string, rel: string): Promise<Buffer[] | string> {
  try {
    return (await readdir(path, { encoding: 'buffer' })).sort(Buffer.compare);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'EACCES' || code === 'EPERM'
        ? PERMISSION_DENIED
        : code === 'ENOENT'
          ? VANISHED_WHILE_LISTED
          : undefined;
    if (reason === undefined) throw error;
    if (!rel) throw new FolderTreeError(`${path}: ${reason.replace(/^it /, '')}`);
    return reason;
  }
}

/** Why the receiver would refuse `name` (see checkFileName), or undefined when it is fine. */
function unsafeName(name: string): string | undefined {
  try {
    checkFileName(name);
    return undefined;
  } catch (error) {
    if (error instanceof UnsafeNameError) return error.message;
    throw error;
  }
}

/** The folder's own name, which must pass: without it there is nothing to send. */
function checked(name: string, path: string): string {
  const refused = unsafeName(name);
  if (refused) throw new FolderTreeError(`${path}: ${refused}`);
  return name;
}
