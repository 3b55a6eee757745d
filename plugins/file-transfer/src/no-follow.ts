import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';

/**
 * File operations that act on the path itself, never on what a symlink planted there points to:
 * opened with O_NOFOLLOW (ELOOP on a link), modes and times set through the descriptor.
 */

/** Something other than a regular file (a FIFO, a device, a directory) where one was expected. */
export class NotPlainFileError extends Error {
  readonly code = 'ENOTPLAIN';
  constructor(path: string) {
    super(`${path} is not a regular file`);
  }
}

/**
 * Opens the regular file at `path` without following a symlink. O_NONBLOCK keeps a FIFO planted
 * there from blocking the open; it changes nothing for regular files.
 */
export async function openPlainFile(path: string, flags: number = constants.O_RDONLY, mode = 0o600) {
  const handle = await open(path, flags | constants.O_NOFOLLOW | constants.O_NONBLOCK, mode);
  if ((await handle.stat()).isFile()) return handle;
  await handle.close();
  throw new NotPlainFileError(path);
}

/** Opens the directory at `path` (not a link to one) to change its mode and times. */
export function openPlainDirectory(path: string): Promise<FileHandle> {
  return open(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
}

/** Sets permission bits and both times (atime = mtime) through an open descriptor. */
export async function setModeAndTime(handle: FileHandle, mode: number, mtimeMs: number): Promise<void> {
  await handle.chmod(mode);
  await handle.utimes(mtimeMs / 1000, mtimeMs / 1000);
}

/** Creates `path` anew with `data` (O_EXCL: a link or file already there fails instead of being written through). */
export async function writeNewFile(path: string, data: string, mode = 0o600): Promise<void> {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  const handle = await open(path, flags, mode);
  try {
    await handle.writeFile(data);
  } finally {
    await handle.close();
  }
}
