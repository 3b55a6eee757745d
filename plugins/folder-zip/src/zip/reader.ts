import { createInflateRaw } from 'node:zlib';
import { Crc32 } from './crc32.js';
import {
  CENTRAL_HEADER_SIZE,
  END_SIZE,
  EXTRA_PKWARE_UNIX,
  EXTRA_TIMESTAMP,
  EXTRA_ZIP64,
  FLAG_DESCRIPTOR,
  FLAG_ENCRYPTED,
  FLAG_MASKED_HEADER,
  FLAG_STRONG_ENCRYPTION,
  FLAG_UTF8,
  fromDosDateTime,
  LOCAL_HEADER_SIZE,
  MADE_BY_UNIX,
  METHOD_DEFLATE,
  METHOD_STORE,
  parseExtra,
  readU64,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  SIG_CENTRAL,
  SIG_DESCRIPTOR,
  SIG_END,
  SIG_LOCAL,
  SIG_ZIP64_END,
  SIG_ZIP64_LOCATOR,
  U16_MAX,
  U32_MAX,
  ZIP64_END_SIZE,
  ZIP64_LOCATOR_SIZE,
} from './format.js';
import { ByteInput, type ByteSource, EntryWithdrawn } from './input.js';
import { LimitTracker, ZipError, type ZipLimits } from './limits.js';

/** One entry as its local header announces it; its data is read with `ZipStreamReader.data`. */
export interface LocalEntry {
  /** The path as stored (UTF-8), directories with their trailing slash. */
  name: string;
  isDirectory: boolean;
  method: number;
  /** From the extended timestamp field, else the MS-DOS time. */
  mtimeMs: number;
  /** Uncompressed size, when the local header gives it (always for stored entries). */
  declaredSize: number | undefined;
  offset: number;
}

export type EntryKind = 'file' | 'directory' | 'symlink' | 'special';

/** What the central directory says about an entry (the only place ZIP keeps the Unix mode). */
export interface CentralEntry {
  name: string;
  kind: EntryKind;
  /** Permission bits (0o777 at most) when the archive was made on Unix. */
  mode: number | undefined;
}

/** What a local header says about an entry's data. */
interface DataHeader {
  crc: number;
  compressedSize: number;
  descriptor: boolean;
  wideDescriptor: boolean;
}

interface Seen {
  rawName: Buffer;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  offset: number;
}

/** Pieces handed to the inflater: bounds what one step may expand to (~16 MiB at deflate's 1032:1). */
const INFLATE_PIECE = 16 * 1024;
const DATA_PIECE = 1024 * 1024;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads a ZIP as its bytes arrive: local header, data (stored or deflated, CRC-32 and sizes
 * checked against the data descriptor), next entry …, then the central directory, which must
 * agree with what was read, and the end records, after which the stream must end. Limits on
 * entries, total size and compression ratio apply while data streams, not after.
 */
export class ZipStreamReader {
  private readonly input: ByteInput;
  private readonly tracker: LimitTracker;
  private readonly seen: Seen[] = [];
  private pending: AsyncGenerator<Buffer> | undefined;
  private atCentral = false;

  private readonly crc = new Crc32();

  constructor(
    source: ByteSource,
    private readonly limits: ZipLimits,
  ) {
    this.input = new ByteInput(source);
    this.tracker = new LimitTracker(limits);
  }

  /** Archive bytes consumed so far. */
  get position(): number {
    return this.input.position;
  }

  /** Uncompressed bytes of entry data read so far. */
  get bytesOut(): number {
    return this.tracker.totalBytes;
  }

  /** The next entry, or undefined when the central directory begins. Drains an unread previous entry. */
  async next(): Promise<{ entry: LocalEntry; data: AsyncGenerator<Buffer> } | undefined> {
    if (this.pending) for await (const _ of this.pending);
    this.pending = undefined;
    if (this.atCentral) return undefined;
    const offset = this.input.position;
    const signature = await this.input.peekU32('the next entry header');
    if (signature === SIG_CENTRAL) {
      this.atCentral = true;
      return undefined;
    }
    if (signature !== SIG_LOCAL)
      throw new ZipError(
        'BAD_ZIP',
        `expected an entry header or the central directory at offset ${offset}, found signature 0x${signature.toString(16).padStart(8, '0')}`,
      );
    const header = await this.input.take(LOCAL_HEADER_SIZE, 'an entry header');
    const flags = header.readUInt16LE(6);
    const method = header.readUInt16LE(8);
    const time = header.readUInt16LE(10);
    const date = header.readUInt16LE(12);
    const crc = header.readUInt32LE(14);
    let compressedSize = header.readUInt32LE(18);
    let size = header.readUInt32LE(22);
    const nameLength = header.readUInt16LE(26);
    const extraLength = header.readUInt16LE(28);
    // Copied: it is kept until the central directory, and the bytes it came in may be reused.
    const rawName = Buffer.from(await this.input.take(nameLength, 'an entry name'));
    const extra = await this.input.take(extraLength, 'an extra field');
    const name = this.decodeName(rawName, flags);
    this.tracker.addEntry(name);
    if (flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION | FLAG_MASKED_HEADER))
      throw new ZipError(
        'BAD_ZIP',
        `entry ${JSON.stringify(name)} is encrypted; encrypted archives are not accepted`,
      );
    if (method !== METHOD_STORE && method !== METHOD_DEFLATE)
      throw new ZipError(
        'BAD_ZIP',
        `entry ${JSON.stringify(name)} uses compression method ${method}; only stored (0) and deflated (8) are accepted`,
      );
    const fields = parseExtra(extra);
    if (typeof fields === 'string') throw new ZipError('BAD_ZIP', `entry ${JSON.stringify(name)}: ${fields}`);
    const unix = fields.get(EXTRA_PKWARE_UNIX);
    if (unix && unix.length > 12)
      throw new ZipError(
        'UNSAFE_ENTRY',
        `entry ${JSON.stringify(name)} claims to be a link; links are never extracted`,
      );
    const zip64 = fields.get(EXTRA_ZIP64);
    if (zip64) {
      let at = 0;
      const next64 = (field: string): number => {
        if (at + 8 > zip64.length)
          throw new ZipError('BAD_ZIP', `entry ${JSON.stringify(name)}: its ZIP64 field lacks the ${field}`);
        const value = readU64(zip64, at);
        at += 8;
        return value;
      };
      if (size === U32_MAX) size = next64('size');
      if (compressedSize === U32_MAX) compressedSize = next64('compressed size');
    } else if (size === U32_MAX || compressedSize === U32_MAX) {
      throw new ZipError(
        'BAD_ZIP',
        `entry ${JSON.stringify(name)} has 32-bit sizes of 0xffffffff and no ZIP64 field`,
      );
    }
    const descriptor = (flags & FLAG_DESCRIPTOR) !== 0;
    const isDirectory = name.endsWith('/');
    let declaredSize: number | undefined = size;
    if (method === METHOD_STORE) {
      if (compressedSize !== size)
        throw new ZipError(
          'BAD_ZIP',
          `stored entry ${JSON.stringify(name)} declares ${compressedSize} bytes stored but ${size} bytes of content`,
        );
    } else if (descriptor) {
      // A streamed deflate entry: the sizes come after the data.
      declaredSize = size > 0 ? size : undefined;
    }
    if (isDirectory && (declaredSize ?? 0) > 0)
      throw new ZipError(
        'BAD_ZIP',
        `directory entry ${JSON.stringify(name)} declares ${declaredSize} bytes of data`,
      );
    const timestamp = fields.get(EXTRA_TIMESTAMP);
    const mtimeMs =
      timestamp && timestamp.length >= 5 && (timestamp[0]! & 1) !== 0
        ? timestamp.readUInt32LE(1) * 1000
        : fromDosDateTime(date, time);
    const entry: LocalEntry = { name, isDirectory, method, mtimeMs, declaredSize, offset };
    const data = this.readData(entry, rawName, {
      crc,
      compressedSize,
      descriptor,
      wideDescriptor: zip64 !== undefined,
    });
    this.pending = data;
    return { entry, data };
  }

  /**
   * The central directory and end records, after `next` returned undefined. Every record must
   * match the entry read at its offset; nothing may follow the end record.
   */
  async central(): Promise<CentralEntry[]> {
    if (!this.atCentral) throw new Error('central() before the last entry was read');
    const centralOffset = this.input.position;
    const entries: CentralEntry[] = [];
    for (;;) {
      const signature = await this.input.peekU32('the central directory');
      if (signature !== SIG_CENTRAL) break;
      const index = entries.length;
      const record = await this.input.take(CENTRAL_HEADER_SIZE, 'a central directory record');
      const madeBy = record.readUInt16LE(4);
      const method = record.readUInt16LE(10);
      const crc = record.readUInt32LE(16);
      let compressedSize = record.readUInt32LE(20);
      let size = record.readUInt32LE(24);
      const nameLength = record.readUInt16LE(28);
      const extraLength = record.readUInt16LE(30);
      const commentLength = record.readUInt16LE(32);
      const external = record.readUInt32LE(38);
      let offset = record.readUInt32LE(42);
      const rawName = await this.input.take(nameLength, 'a central directory name');
      const extra = await this.input.take(extraLength, 'a central directory extra field');
      await this.input.take(commentLength, 'an entry comment');
      const seen = this.seen[index];
      const shown = JSON.stringify(rawName.toString('utf8'));
      if (!seen)
        throw new ZipError(
          'BAD_ZIP',
          `the central directory lists ${shown}, which is not in the archive's data`,
        );
      const fields = parseExtra(extra);
      if (typeof fields === 'string') throw new ZipError('BAD_ZIP', `central record ${shown}: ${fields}`);
      const zip64 = fields.get(EXTRA_ZIP64);
      if (zip64) {
        let at = 0;
        const next64 = (): number => {
          if (at + 8 > zip64.length)
            throw new ZipError('BAD_ZIP', `central record ${shown}: its ZIP64 field is too short`);
          const value = readU64(zip64, at);
          at += 8;
          return value;
        };
        if (size === U32_MAX) size = next64();
        if (compressedSize === U32_MAX) compressedSize = next64();
        if (offset === U32_MAX) offset = next64();
      }
      if (
        !rawName.equals(seen.rawName) ||
        method !== seen.method ||
        crc !== seen.crc ||
        size !== seen.size ||
        compressedSize !== seen.compressedSize ||
        offset !== seen.offset
      )
        throw new ZipError(
          'BAD_ZIP',
          `the central directory disagrees with the data of entry ${index + 1} (${shown}): name, method, CRC, sizes or offset differ`,
        );
      entries.push({ name: rawName.toString('utf8'), ...kindOf(madeBy, external, rawName) });
    }
    if (entries.length !== this.seen.length)
      throw new ZipError(
        'BAD_ZIP',
        `the central directory lists ${entries.length} entries, the archive holds ${this.seen.length}`,
      );
    const centralSize = this.input.position - centralOffset;
    let zip64End: { count: number; size: number; offset: number } | undefined;
    if ((await this.input.peekU32('the end of the archive')) === SIG_ZIP64_END) {
      const zip64EndOffset = this.input.position;
      const record = await this.input.take(ZIP64_END_SIZE, 'the ZIP64 end record');
      const rest = readU64(record, 4) - (ZIP64_END_SIZE - 12);
      if (rest < 0 || rest > 65_536)
        throw new ZipError('BAD_ZIP', 'the ZIP64 end record has an invalid size');
      await this.input.take(rest, 'the ZIP64 end record');
      zip64End = { count: readU64(record, 32), size: readU64(record, 40), offset: readU64(record, 48) };
      if ((await this.input.peekU32('the ZIP64 end locator')) !== SIG_ZIP64_LOCATOR)
        throw new ZipError('BAD_ZIP', 'the ZIP64 end record is not followed by its locator');
      const locator = await this.input.take(ZIP64_LOCATOR_SIZE, 'the ZIP64 end locator');
      if (readU64(locator, 8) !== zip64EndOffset)
        throw new ZipError('BAD_ZIP', 'the ZIP64 end locator points elsewhere');
    }
    if ((await this.input.peekU32('the end of the archive')) !== SIG_END)
      throw new ZipError(
        'BAD_ZIP',
        'the central directory is not followed by the end of central directory record',
      );
    const end = await this.input.take(END_SIZE, 'the end of central directory record');
    await this.input.take(end.readUInt16LE(20), 'the archive comment');
    const pick = (value: number, max: number, wide: number | undefined) =>
      value === max && wide !== undefined ? wide : value;
    const count = pick(end.readUInt16LE(10), U16_MAX, zip64End?.count);
    const size = pick(end.readUInt32LE(12), U32_MAX, zip64End?.size);
    const offset = pick(end.readUInt32LE(16), U32_MAX, zip64End?.offset);
    if (count !== entries.length || size !== centralSize || offset !== centralOffset)
      throw new ZipError(
        'BAD_ZIP',
        'the end record disagrees with the central directory (count, size or offset)',
      );
    if (!(await this.input.atEnd())) throw new ZipError('BAD_ZIP', 'bytes follow the end of the archive');
    return entries;
  }

  private decodeName(raw: Buffer, flags: number): string {
    if (raw.length === 0) throw new ZipError('UNSAFE_ENTRY', 'an entry has an empty name');
    if (raw.length > this.limits.maxPathBytes)
      throw new ZipError(
        'UNSAFE_ENTRY',
        `an entry name is ${raw.length} bytes long; at most ${this.limits.maxPathBytes} are accepted`,
      );
    if (!(flags & FLAG_UTF8) && raw.some((b) => b > 0x7f))
      throw new ZipError('UNSAFE_ENTRY', 'an entry name is not ASCII and not marked as UTF-8 (flag bit 11)');
    try {
      return utf8.decode(raw);
    } catch {
      throw new ZipError('UNSAFE_ENTRY', 'an entry name is not valid UTF-8');
    }
  }

  /** An entry's data; a withdrawal of this entry (see EntryWithdrawn) is accepted, then rethrown. */
  private async *readData(entry: LocalEntry, rawName: Buffer, header: DataHeader): AsyncGenerator<Buffer> {
    try {
      yield* this.entryData(entry, rawName, header);
    } catch (error) {
      if (error instanceof EntryWithdrawn) this.withdraw(entry, error);
      throw error;
    }
  }

  /**
   * Forgets the withdrawn entry's bytes so that the next entry reads cleanly; it is never added to
   * what the central directory must list. Only the file entry being read may be withdrawn: a
   * withdrawal naming another offset is a broken or hostile sender.
   */
  private withdraw(entry: LocalEntry, withdrawal: EntryWithdrawn): void {
    if (entry.isDirectory || withdrawal.offset !== entry.offset)
      throw new ZipError(
        'PROTOCOL',
        `the sender withdrew the entry at offset ${withdrawal.offset}, but the entry being received is ${JSON.stringify(entry.name)} at offset ${entry.offset}`,
      );
    this.crc.take();
    this.input.discardBuffered();
  }

  private async *entryData(entry: LocalEntry, rawName: Buffer, header: DataHeader): AsyncGenerator<Buffer> {
    const shown = JSON.stringify(entry.name);
    let size = 0;
    let compressed = 0;
    const count = (piece: Buffer): void => {
      size += piece.length;
      if (entry.declaredSize !== undefined && size > entry.declaredSize)
        throw new ZipError(
          'CORRUPT',
          `entry ${shown}: data exceeds its declared size of ${entry.declaredSize} bytes`,
        );
      this.tracker.addBytes(piece.length, entry.name);
      this.crc.update(piece);
    };
    if (entry.method === METHOD_STORE) {
      let left = header.compressedSize;
      while (left > 0) {
        const piece = await this.input.some(Math.min(left, DATA_PIECE), `the data of entry ${shown}`);
        left -= piece.length;
        count(piece);
        yield piece;
      }
      compressed = header.compressedSize;
    } else {
      const known = header.descriptor ? undefined : header.compressedSize;
      for await (const out of this.inflate(shown, known, (n) => {
        compressed = n;
      })) {
        count(out);
        this.tracker.checkRatio(size, compressed, entry.name);
        yield out;
      }
    }
    const crc = this.crc.take();
    let expected = {
      crc: header.crc,
      compressedSize: header.compressedSize,
      size: entry.declaredSize ?? size,
    };
    if (header.descriptor) {
      const signature = await this.input.peekU32(`the data descriptor of entry ${shown}`);
      if (signature !== SIG_DESCRIPTOR)
        throw new ZipError(
          'CORRUPT',
          `entry ${shown}: no data descriptor after its ${size} bytes; the entry's data is longer than declared, or the archive is corrupt`,
        );
      const wide = header.wideDescriptor;
      const descriptor = await this.input.take(wide ? 24 : 16, `the data descriptor of entry ${shown}`);
      expected = {
        crc: descriptor.readUInt32LE(4),
        compressedSize: wide ? readU64(descriptor, 8) : descriptor.readUInt32LE(8),
        size: wide ? readU64(descriptor, 16) : descriptor.readUInt32LE(12),
      };
    }
    if (expected.size !== size || expected.compressedSize !== compressed)
      throw new ZipError(
        'CORRUPT',
        `entry ${shown}: ${size} bytes (${compressed} compressed) arrived, the archive declares ${expected.size} (${expected.compressedSize} compressed)`,
      );
    if (expected.crc !== crc)
      throw new ZipError(
        'CORRUPT',
        `entry ${shown}: CRC-32 mismatch (the data gives ${hex(crc)}, the archive declares ${hex(expected.crc)})`,
      );
    this.seen.push({
      rawName,
      method: entry.method,
      crc,
      compressedSize: compressed,
      size,
      offset: entry.offset,
    });
  }

  /**
   * Inflates from the input until the deflate stream ends (or `known` bytes were used); bytes the
   * inflater did not need go back to the input. Reports compressed bytes used through `used`.
   */
  private async *inflate(
    shown: string,
    known: number | undefined,
    used: (compressed: number) => void,
  ): AsyncGenerator<Buffer> {
    const inflater = createInflateRaw();
    const output: Buffer[] = [];
    let ended = false;
    let failure: Error | undefined;
    inflater.on('data', (chunk: Buffer) => output.push(chunk));
    inflater.on('end', () => {
      ended = true;
    });
    inflater.on('error', (error) => {
      failure ??= error;
    });
    // Resolves once the inflater emitted its last output (or failed).
    const outputDone = () =>
      new Promise<void>((resolve) => {
        if (ended || failure) return resolve();
        inflater.once('end', () => resolve());
        inflater.once('error', () => resolve());
      });
    let fed = 0;
    try {
      for (;;) {
        const max = known === undefined ? INFLATE_PIECE : Math.min(INFLATE_PIECE, known - fed);
        if (max === 0) {
          // Every announced byte went in: the deflate stream must be complete now.
          inflater.end();
          await outputDone();
        } else {
          const piece = await this.input.some(max, `the compressed data of entry ${shown}`);
          fed += piece.length;
          await new Promise<void>((resolve) =>
            inflater.write(piece, (error) => {
              if (error) failure ??= error;
              resolve();
            }),
          );
          const surplus = fed - inflater.bytesWritten;
          if (surplus > 0 && !failure) {
            if (known !== undefined)
              throw new ZipError('CORRUPT', `entry ${shown}: the deflate data ends before its declared size`);
            // The deflate stream ended inside this piece: the rest is the data descriptor.
            this.input.unshift(piece.subarray(piece.length - surplus));
            fed -= surplus;
            await outputDone();
          }
        }
        if (failure)
          throw new ZipError('CORRUPT', `entry ${shown}: invalid deflate data (${failure.message})`);
        used(fed);
        while (output.length > 0) yield output.shift()!;
        if (ended || max === 0) {
          if (!ended) throw new ZipError('CORRUPT', `entry ${shown}: the deflate data is incomplete`);
          return;
        }
      }
    } finally {
      inflater.destroy();
    }
  }
}

function kindOf(
  madeBy: number,
  external: number,
  rawName: Buffer,
): { kind: EntryKind; mode: number | undefined } {
  const slash = rawName[rawName.length - 1] === 0x2f;
  if (madeBy >> 8 !== MADE_BY_UNIX) return { kind: slash ? 'directory' : 'file', mode: undefined };
  const mode = external >>> 16;
  const type = mode & S_IFMT;
  const perms = mode & 0o777;
  if (type === S_IFLNK) return { kind: 'symlink', mode: perms };
  if (type === S_IFDIR || (type === 0 && slash))
    return { kind: 'directory', mode: type === 0 ? undefined : perms };
  if (type === S_IFREG || type === 0)
    return { kind: slash ? 'special' : 'file', mode: type === 0 ? undefined : perms };
  return { kind: 'special', mode: perms };
}

function hex(value: number): string {
  return value.toString(16).padStart(8, '0');
}
