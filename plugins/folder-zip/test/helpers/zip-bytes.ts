import type { ByteSource } from '../../src/zip/input.js';
import { DEFAULT_LIMITS, type ZipLimits } from '../../src/zip/limits.js';
import { type CentralEntry, type LocalEntry, ZipStreamReader } from '../../src/zip/reader.js';
import { type FileMeta, SizeChangedError, ZipWriter, type ZipWriterOptions } from '../../src/zip/writer.js';

export interface TestEntry {
  name: string;
  dir?: boolean;
  data?: Buffer;
  mode?: number;
  mtimeMs?: number;
  compress?: boolean;
}

/** A whole archive in memory, written by ZipWriter. */
export async function zipOf(entries: TestEntry[], opts: ZipWriterOptions = {}): Promise<Buffer> {
  const parts: Buffer[] = [];
  const writer = new ZipWriter(async (chunk) => {
    parts.push(Buffer.from(chunk));
  }, opts);
  await addEntries(writer, entries);
  await writer.finish();
  return Buffer.concat(parts);
}

async function addEntries(writer: ZipWriter, entries: TestEntry[]): Promise<void> {
  for (const e of entries) {
    const meta = { mode: e.mode ?? (e.dir ? 0o755 : 0o644), mtimeMs: e.mtimeMs ?? 1_700_000_000_000 };
    if (e.dir) await writer.addDirectory(e.name, meta);
    else {
      const data = e.data ?? Buffer.alloc(0);
      const file: FileMeta = { ...meta, size: data.length, compress: e.compress ?? false };
      await writer.addFile(
        e.name,
        file,
        (async function* () {
          for (let at = 0; at < data.length; at += 100_000) yield data.subarray(at, at + 100_000);
        })(),
      );
    }
  }
}

/** An archive as a sender that withdrew one entry writes it: the bytes before the withdrawal, and after. */
export interface WithdrawnArchive {
  head: Buffer;
  /** Where the withdrawn entry's local header starts (what ZIP_WITHDRAW names). */
  offset: number;
  tail: Buffer;
}

/**
 * `before`, then `withdrawn` whose data fails (as a file that changed) after `sent` of its bytes
 * went out, then `after` and the central directory.
 */
export async function zipWithWithdrawal(
  before: TestEntry[],
  withdrawn: TestEntry & { sent: number },
  after: TestEntry[],
): Promise<WithdrawnArchive> {
  let parts: Buffer[] = [];
  const writer = new ZipWriter(async (chunk) => {
    parts.push(Buffer.from(chunk));
  });
  await addEntries(writer, before);
  const offset = writer.bytesWritten;
  const data = withdrawn.data ?? Buffer.alloc(0);
  const failing = (async function* () {
    if (withdrawn.sent > 0) yield data.subarray(0, withdrawn.sent);
    throw new SizeChangedError(`${withdrawn.name} changed`);
  })();
  const meta = {
    mode: 0o644,
    mtimeMs: 1_700_000_000_000,
    size: data.length,
    compress: withdrawn.compress ?? false,
  };
  await writer.addFile(withdrawn.name, meta, failing).then(
    () => {
      throw new Error('the entry was not withdrawn');
    },
    (error: unknown) => {
      if (!(error instanceof SizeChangedError)) throw error;
    },
  );
  const head = Buffer.concat(parts);
  parts = [];
  await addEntries(writer, after);
  await writer.finish();
  return { head, offset, tail: Buffer.concat(parts) };
}

/** Feeds `bytes` in pieces of `piece` bytes (odd sizes exercise headers split across pieces). */
export function sourceOf(bytes: Buffer, piece = 7_777): ByteSource {
  let at = 0;
  return {
    async next() {
      if (at >= bytes.length) return undefined;
      const out = bytes.subarray(at, at + piece);
      at += piece;
      return out;
    },
  };
}

export interface ReadEntry extends LocalEntry {
  data: Buffer;
}

/** Reads an archive fully: every entry with its data, then the central directory. */
export async function readAll(
  source: ByteSource,
  limits: Partial<ZipLimits> = {},
): Promise<{ entries: ReadEntry[]; central: CentralEntry[] }> {
  const reader = new ZipStreamReader(source, { ...DEFAULT_LIMITS, ...limits });
  const entries: ReadEntry[] = [];
  for (;;) {
    const next = await reader.next();
    if (!next) break;
    const parts: Buffer[] = [];
    for await (const piece of next.data) parts.push(Buffer.from(piece));
    entries.push({ ...next.entry, data: Buffer.concat(parts) });
  }
  return { entries, central: await reader.central() };
}
