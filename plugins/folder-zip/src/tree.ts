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

export interface FolderTree {
  /** The folder's name: the top directory of the archive. */
  root: string;
  entries: TreeEntry[];
  files: number;
  dirs: number;
  bytes: number;
  /** Symlinks and special files (sockets, FIFOs, devices) left out, relative paths. */
  skipped: string[];
}

/** A folder that cannot be sent as it is; the message names the path. */
export class FolderTreeError extends Error {
  override name = 'FolderTreeError';
}

/**
 * Lists a folder depth-first, each directory before its contents, names sorted, without following
 * symlinks (lstat): with `skip` they are left out and reported in `skipped`, with `error` the
 * walk stops. Names the receiver would refuse stop the walk here already.
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
    const info = await lstat(path);
    if (info.isSymbolicLink()) {
      if (symlinks === 'error')
        throw new FolderTreeError(
          `${path} is a symlink; symlinks are not sent (--symlinks skip leaves them out)`,
        );
      tree.skipped.push(rel);
      continue;
    }
    const base = { rel, path, mode: info.mode & 0o777, mtimeMs: info.mtimeMs };
    if (info.isFile()) {
      tree.entries.push({ ...base, kind: 'file', size: info.size });
      tree.files++;
      tree.bytes += info.size;
    } else if (info.isDirectory()) {
      tree.entries.push({ ...base, kind: 'dir', size: 0 });
      tree.dirs++;
      const names = (await readdir(path)).sort();
      // Reversed onto the stack so that they come off in sorted order.
      for (const name of names.reverse()) {
        checked(name, join(path, name));
        stack.push({ rel: rel ? `${rel}/${name}` : name, path: join(path, name) });
      }
    } else {
      tree.skipped.push(rel);
    }
  }
  return tree;
}

function checked(name: string, path: string): string {
  try {
    return checkFileName(name);
  } catch (error) {
    if (error instanceof UnsafeNameError) throw new FolderTreeError(`${path}: ${error.message}`);
    throw error;
  }
}
