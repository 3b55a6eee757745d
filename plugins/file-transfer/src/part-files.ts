import { createHash } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Blake3 } from './hasher.js';
import { openPlainFile, writeNewFile } from './no-follow.js';

/** Hidden folder of the download directory holding unfinished transfers. */
export const PARTIAL_DIR = '.mesh-partial';

/** What a `.part` file is a prefix of: a resume is offered only when all of it matches. */
export interface PartIdentity {
  peer: string;
  name: string;
  size: number;
  mtime: number;
}

export interface PartFiles {
  /** The bytes received so far. */
  part: string;
  /** `.part.json`: the PartIdentity of `part`. */
  sidecar: string;
}

/**
 * Where a transfer of `name` from `peer` keeps its partial data. The file name is a digest, so it
 * never exceeds NAME_MAX and two peers sending the same name never share a part file.
 */
export async function partFilesFor(downloadDir: string, peer: string, name: string): Promise<PartFiles> {
  const dir = join(downloadDir, PARTIAL_DIR);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const key = createHash('sha256').update(peer).update('\0').update(name).digest('hex').slice(0, 40);
  return { part: join(dir, `${key}.part`), sidecar: join(dir, `${key}.part.json`) };
}

/**
 * Bytes of a part file that belong to `identity`, or 0 when there is none or it is another file's.
 * Neither file is read through a symlink: a link planted there is not a resumable part.
 */
export async function resumableBytes(files: PartFiles, identity: PartIdentity): Promise<number> {
  try {
    const recorded = JSON.parse(await readPlain(files.sidecar)) as Partial<PartIdentity>;
    const same =
      recorded.peer === identity.peer &&
      recorded.name === identity.name &&
      recorded.size === identity.size &&
      recorded.mtime === identity.mtime;
    if (!same) return 0;
    const part = await openPlainFile(files.part);
    try {
      const { size } = await part.stat();
      return size <= identity.size ? size : 0;
    } finally {
      await part.close();
    }
  } catch {
    return 0;
  }
}

/**
 * Writes the sidecar atomically (a new temp file, then rename): a crash never leaves half of one,
 * and a symlink at either name is replaced, never written through.
 */
export async function writeSidecar(files: PartFiles, identity: PartIdentity): Promise<void> {
  const temp = `${files.sidecar}.tmp`;
  await rm(temp, { force: true });
  await writeNewFile(temp, JSON.stringify(identity));
  await rename(temp, files.sidecar);
}

export async function removePart(files: PartFiles): Promise<void> {
  await Promise.all([rm(files.part, { force: true }), rm(files.sidecar, { force: true })]);
}

/** Feeds the first `bytes` of the part file at `path` to `hasher` (the resume check reads the prefix once). */
export async function hashPrefix(
  path: string,
  bytes: number,
  hasher: Blake3,
  chunk = 1024 * 1024,
): Promise<void> {
  if (bytes === 0) return;
  let seen = 0;
  const file = await openPlainFile(path);
  for await (const data of file.createReadStream({ start: 0, end: bytes - 1, highWaterMark: chunk })) {
    seen += (data as Buffer).length;
    hasher.update(data as Buffer);
  }
  if (seen !== bytes) throw new Error(`${path} holds ${seen} bytes, expected at least ${bytes}`);
}

async function readPlain(path: string): Promise<string> {
  const file = await openPlainFile(path);
  try {
    return await file.readFile('utf8');
  } finally {
    await file.close();
  }
}
