import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PARTIAL_DIR } from './part-files.js';

/** A part file and its sidecars: `<key>.part`, `<key>.part.json`, `<key>.part.json.tmp`. */
const PART_ENTRY = /^([0-9a-f]{40}\.part)(?:\.json(?:\.tmp)?)?$/;
/** A folder being extracted (folder-zip): `folder-<uuid>`. */
const FOLDER_ENTRY = /^folder-[0-9a-f-]{36}$/;

/**
 * Removes the unfinished transfers in `downloadDir` that nothing touched for `maxAgeMs`: a part
 * file goes together with its sidecars, judged by the newest of them, and a folder left by an
 * extraction that never ended goes whole, unless `inUse(path)` says a transfer is writing the
 * part or the folder. Returns the paths removed. Entries are judged by lstat and removed by name,
 * so a symlink among them is dropped, never followed.
 */
export async function sweepExpiredParts(
  downloadDir: string,
  maxAgeMs: number,
  inUse: (part: string) => boolean,
  now = Date.now(),
): Promise<string[]> {
  const dir = join(downloadDir, PARTIAL_DIR);
  const names = await readdir(dir).catch(() => [] as string[]);
  const groups = new Map<string, { newest: number; names: string[] }>();
  for (const name of names) {
    const key = PART_ENTRY.exec(name)?.[1] ?? (FOLDER_ENTRY.test(name) ? name : undefined);
    if (!key) continue;
    const stats = await lstat(join(dir, name)).catch(() => undefined);
    if (!stats) continue;
    const group = groups.get(key) ?? { newest: 0, names: [] };
    group.newest = Math.max(group.newest, stats.mtimeMs);
    group.names.push(name);
    groups.set(key, group);
  }
  const removed: string[] = [];
  for (const [key, group] of groups) {
    const path = join(dir, key);
    if (now - group.newest < maxAgeMs || inUse(path)) continue;
    await Promise.all(group.names.map((name) => rm(join(dir, name), { recursive: true, force: true })));
    removed.push(path);
  }
  return removed;
}

/** How often a running agent sweeps: half the age limit, between a minute and an hour. */
export function sweepIntervalMs(maxAgeMs: number): number {
  return Math.min(60 * 60_000, Math.max(60_000, maxAgeMs / 2));
}
