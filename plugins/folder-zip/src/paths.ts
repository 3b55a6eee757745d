import { checkFileName, UnsafeNameError } from '@mesh-agent/plugin-file-transfer';
import { ZipError } from './zip/limits.js';

/**
 * The path components of an entry name, relative to `root`, or a ZipError('UNSAFE_ENTRY').
 * Refused: absolute paths, drive letters, backslashes, `.` and `..`, empty components, NUL and
 * control characters, components over NAME_MAX (each checked as a plain file name by
 * file-transfer's checkFileName), and anything outside `root/`.
 */
export function entryComponents(name: string, root: string): string[] {
  const shown = JSON.stringify(name.length > 120 ? `${name.slice(0, 120)}…` : name);
  const unsafe = (why: string) => new ZipError('UNSAFE_ENTRY', `entry ${shown} ${why}`);
  if (name.startsWith('/')) throw unsafe('is an absolute path');
  if (/^[A-Za-z]:/.test(name)) throw unsafe('starts with a drive letter');
  if (name.includes('\\')) throw unsafe('contains a backslash (a Windows path separator)');
  const parts = (name.endsWith('/') ? name.slice(0, -1) : name).split('/');
  for (const part of parts) {
    if (part === '..') throw unsafe('climbs out of its folder with ".."');
    try {
      checkFileName(part);
    } catch (error) {
      if (error instanceof UnsafeNameError) throw unsafe(`has an unsafe component: ${error.message}`);
      throw error;
    }
  }
  if (parts[0] !== root) throw unsafe(`is outside the announced folder ${JSON.stringify(root)}`);
  return parts.slice(1);
}
