import { link } from 'node:fs/promises';
import { join } from 'node:path';

/** Longest file name most file systems store (NAME_MAX), in UTF-8 bytes. */
export const MAX_NAME_BYTES = 255;

/** A peer-supplied file name that cannot be stored as a plain name in the download directory. */
export class UnsafeNameError extends Error {
  override name = 'UnsafeNameError';
}

/**
 * Checks a file name sent by a peer and returns it unchanged, or throws UnsafeNameError.
 * Only a plain name is accepted: no directories, nothing that a file system could read as a path.
 */
export function checkFileName(name: string): string {
  const shown = JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name);
  if (name.length === 0) throw new UnsafeNameError('file name is empty');
  if (name.includes('\0')) throw new UnsafeNameError(`file name ${shown} contains a NUL byte`);
  if (name === '.' || name === '..') throw new UnsafeNameError(`file name ${shown} is not a file`);
  if (name.includes('/') || name.includes('\\'))
    throw new UnsafeNameError(`file name ${shown} contains a path separator; only plain names are accepted`);
  if (/^[A-Za-z]:/.test(name)) throw new UnsafeNameError(`file name ${shown} starts with a drive letter`);
  // Other control characters make names that terminals and scripts mangle.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  if (/[\u0001-\u001f\u007f]/.test(name))
    throw new UnsafeNameError(`file name ${shown} contains control characters`);
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_NAME_BYTES)
    throw new UnsafeNameError(`file name is ${bytes} bytes long; at most ${MAX_NAME_BYTES} are allowed`);
  return name;
}

/** `name (n).ext` for the n-th collision, kept within MAX_NAME_BYTES by shortening the stem. */
export function numberedName(name: string, n: number): string {
  const dot = name.lastIndexOf('.');
  // ".bashrc" has no extension; "archive.tar.gz" keeps only ".gz", like most file managers.
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  const suffix = ` (${n})${ext}`;
  let shortened = stem;
  while (shortened.length > 0 && Buffer.byteLength(shortened + suffix, 'utf8') > MAX_NAME_BYTES) {
    shortened = Array.from(shortened).slice(0, -1).join('');
  }
  return shortened + suffix;
}

/**
 * Puts `source` into `dir` under `name`, or `name (1)`, `name (2)` … when taken, never replacing
 * an existing file: link(2) fails with EEXIST instead of overwriting. Returns the name used;
 * the caller unlinks `source` afterwards.
 */
export async function linkWithoutOverwrite(source: string, dir: string, name: string): Promise<string> {
  for (let n = 0; n < 10_000; n++) {
    const candidate = n === 0 ? name : numberedName(name, n);
    try {
      await link(source, join(dir, candidate));
      return candidate;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  throw new Error(`${name}: 10000 files of that name exist already`);
}
