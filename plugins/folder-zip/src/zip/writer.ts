import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createDeflateRaw } from 'node:zlib';
import { Crc32 } from './crc32.js';
import {
  CENTRAL_HEADER_SIZE,
  dosDateTime,
  END_SIZE,
  EXTRA_TIMESTAMP,
  EXTRA_ZIP64,
  extraField,
  FLAG_DESCRIPTOR,
  FLAG_UTF8,
  LOCAL_HEADER_SIZE,
  MADE_BY_UNIX,
  METHOD_DEFLATE,
  METHOD_STORE,
  S_IFDIR,
  S_IFREG,
  SIG_CENTRAL,
  SIG_DESCRIPTOR,
  SIG_END,
  SIG_LOCAL,
  SIG_ZIP64_END,
  SIG_ZIP64_LOCATOR,
  U16_MAX,
  U32_MAX,
  u64,
  VERSION_DEFAULT,
  VERSION_ZIP64,
  ZIP64_END_SIZE,
  ZIP64_LOCATOR_SIZE,
} from './format.js';

export interface EntryMeta {
  /** Permission bits; anything above 0o777 is dropped. */
  mode: number;
  mtimeMs: number;
}

export interface FileMeta extends EntryMeta {
  /** The exact number of bytes `data` yields (stat), written into the local header. */
  size: number;
  /** Deflate instead of store. */
  compress: boolean;
}

export interface ZipWriterOptions {
  /** ZIP64 records for every entry and the end, whatever the sizes (for tests and interop checks). */
  forceZip64?: boolean;
  /** zlib level for deflated entries; default 6. */
  level?: number;
}

/** The data of a file did not match the size it was announced with (it changed while being read). */
export class SizeChangedError extends Error {
  override name = 'SizeChangedError';
}

/** Above this size an entry gets ZIP64 fields: deflate can grow incompressible data a little past the input. */
const ZIP64_THRESHOLD = 0xf000_0000;

interface Written {
  name: Buffer;
  flags: number;
  method: number;
  dos: { date: number; time: number };
  mtimeMs: number;
  crc: number;
  size: number;
  compressedSize: number;
  offset: number;
  zip64: boolean;
  external: number;
}

/**
 * A streaming ZIP writer: local header, data, data descriptor per entry, then the central
 * directory and end records, all handed to `out` as they are produced; nothing is seeked back
 * to. Stored entries carry their real sizes in the local header too (a streaming reader needs
 * them); bit 3 is set on files so the CRC can follow the data.
 */
export class ZipWriter {
  private offset = 0;
  private readonly entries: Written[] = [];
  private finished = false;

  private readonly crc = new Crc32();

  constructor(
    private readonly out: (chunk: Buffer) => Promise<void>,
    private readonly opts: ZipWriterOptions = {},
  ) {}

  /** Bytes of ZIP produced so far. */
  get bytesWritten(): number {
    return this.offset;
  }

  /** A directory entry; `name` without the trailing slash. */
  async addDirectory(name: string, meta: EntryMeta): Promise<void> {
    const entry = this.begin(`${name}/`, meta, METHOD_STORE, 0, S_IFDIR, Boolean(this.opts.forceZip64));
    entry.external |= 0x10; // MS-DOS directory bit, for readers that ignore Unix modes.
    await this.emit(this.localHeader(entry, 0, 0));
    this.entries.push(entry);
  }

  /**
   * A file entry whose data is `data` (exactly `meta.size` bytes, else SizeChangedError). If `data`
   * fails, the header and part of the data are out, but the entry is not listed in the central
   * directory and the writer can go on with the next one (the caller withdraws it).
   */
  async addFile(name: string, meta: FileMeta, data: AsyncIterable<Uint8Array>): Promise<void> {
    const zip64 = Boolean(this.opts.forceZip64) || meta.size >= ZIP64_THRESHOLD;
    const method = meta.compress ? METHOD_DEFLATE : METHOD_STORE;
    const entry = this.begin(name, meta, method, FLAG_DESCRIPTOR, S_IFREG, zip64);
    // Stored: the sizes are known now. Deflated: the compressed size is not; the descriptor tells.
    const known = method === METHOD_STORE ? meta.size : 0;
    await this.emit(this.localHeader(entry, known, known));
    let size = 0;
    const counted = async function* (this: ZipWriter): AsyncGenerator<Uint8Array> {
      for await (const chunk of data) {
        size += chunk.length;
        if (size > meta.size)
          throw new SizeChangedError(`${name} grew past ${meta.size} bytes while being read`);
        this.crc.update(chunk);
        yield chunk;
      }
      if (size !== meta.size)
        throw new SizeChangedError(`${name} has ${size} bytes, ${meta.size} were announced`);
    }.call(this);
    let compressedSize = 0;
    try {
      if (method === METHOD_STORE) {
        for await (const chunk of counted) {
          await this.emit(chunk);
          compressedSize += chunk.length;
        }
      } else {
        const deflater = createDeflateRaw({ level: this.opts.level ?? 6 });
        const feeding = pipeline(Readable.from(counted), deflater);
        feeding.catch(() => {});
        for await (const chunk of deflater as AsyncIterable<Buffer>) {
          await this.emit(chunk);
          compressedSize += chunk.length;
        }
        await feeding;
      }
    } catch (error) {
      this.crc.take(); // the next entry's CRC starts from nothing
      throw error;
    }
    entry.crc = this.crc.take();
    entry.size = size;
    entry.compressedSize = compressedSize;
    const descriptor = Buffer.alloc(zip64 ? 24 : 16);
    descriptor.writeUInt32LE(SIG_DESCRIPTOR, 0);
    descriptor.writeUInt32LE(entry.crc, 4);
    if (zip64) {
      descriptor.writeBigUInt64LE(BigInt(compressedSize), 8);
      descriptor.writeBigUInt64LE(BigInt(size), 16);
    } else {
      descriptor.writeUInt32LE(compressedSize, 8);
      descriptor.writeUInt32LE(size, 12);
    }
    await this.emit(descriptor);
    this.entries.push(entry);
  }

  /** Central directory and end records. Returns the archive's size in bytes. */
  async finish(): Promise<number> {
    if (this.finished) throw new Error('the archive is finished already');
    this.finished = true;
    const centralOffset = this.offset;
    let batch: Buffer[] = [];
    let batchBytes = 0;
    for (const entry of this.entries) {
      const record = this.centralRecord(entry);
      batch.push(record);
      batchBytes += record.length;
      if (batchBytes >= 256 * 1024) {
        await this.emit(Buffer.concat(batch));
        batch = [];
        batchBytes = 0;
      }
    }
    if (batch.length > 0) await this.emit(Buffer.concat(batch));
    const centralSize = this.offset - centralOffset;
    const count = this.entries.length;
    const zip64 =
      Boolean(this.opts.forceZip64) || count >= U16_MAX || centralOffset >= U32_MAX || centralSize >= U32_MAX;
    const tail: Buffer[] = [];
    if (zip64) {
      const zip64EndOffset = this.offset;
      const end64 = Buffer.alloc(ZIP64_END_SIZE);
      end64.writeUInt32LE(SIG_ZIP64_END, 0);
      end64.writeBigUInt64LE(BigInt(ZIP64_END_SIZE - 12), 4);
      end64.writeUInt16LE((MADE_BY_UNIX << 8) | VERSION_ZIP64, 12);
      end64.writeUInt16LE(VERSION_ZIP64, 14);
      end64.writeBigUInt64LE(BigInt(count), 24);
      end64.writeBigUInt64LE(BigInt(count), 32);
      end64.writeBigUInt64LE(BigInt(centralSize), 40);
      end64.writeBigUInt64LE(BigInt(centralOffset), 48);
      const locator = Buffer.alloc(ZIP64_LOCATOR_SIZE);
      locator.writeUInt32LE(SIG_ZIP64_LOCATOR, 0);
      locator.writeBigUInt64LE(BigInt(zip64EndOffset), 8);
      locator.writeUInt32LE(1, 16);
      tail.push(end64, locator);
    }
    const end = Buffer.alloc(END_SIZE);
    end.writeUInt32LE(SIG_END, 0);
    end.writeUInt16LE(zip64 ? U16_MAX : count, 8);
    end.writeUInt16LE(zip64 ? U16_MAX : count, 10);
    end.writeUInt32LE(zip64 ? U32_MAX : centralSize, 12);
    end.writeUInt32LE(zip64 ? U32_MAX : centralOffset, 16);
    tail.push(end);
    await this.emit(Buffer.concat(tail));
    return this.offset;
  }

  private begin(
    name: string,
    meta: EntryMeta,
    method: number,
    flags: number,
    type: number,
    zip64: boolean,
  ): Written {
    if (this.finished) throw new Error('the archive is finished already');
    return {
      name: Buffer.from(name, 'utf8'),
      flags: flags | FLAG_UTF8,
      method,
      dos: dosDateTime(meta.mtimeMs),
      mtimeMs: meta.mtimeMs,
      crc: 0,
      size: 0,
      compressedSize: 0,
      offset: this.offset,
      zip64,
      external: ((type | (meta.mode & 0o777)) << 16) >>> 0,
    };
  }

  private localHeader(entry: Written, compressedSize: number, size: number): Buffer {
    const extras = [timestampExtra(entry.mtimeMs)];
    if (entry.zip64) extras.unshift(extraField(EXTRA_ZIP64, Buffer.concat([u64(size), u64(compressedSize)])));
    const extra = Buffer.concat(extras);
    const header = Buffer.alloc(LOCAL_HEADER_SIZE);
    header.writeUInt32LE(SIG_LOCAL, 0);
    header.writeUInt16LE(entry.zip64 ? VERSION_ZIP64 : VERSION_DEFAULT, 4);
    header.writeUInt16LE(entry.flags, 6);
    header.writeUInt16LE(entry.method, 8);
    header.writeUInt16LE(entry.dos.time, 10);
    header.writeUInt16LE(entry.dos.date, 12);
    header.writeUInt32LE(0, 14); // CRC: in the data descriptor (directories: 0 is right)
    header.writeUInt32LE(entry.zip64 ? U32_MAX : compressedSize, 18);
    header.writeUInt32LE(entry.zip64 ? U32_MAX : size, 22);
    header.writeUInt16LE(entry.name.length, 26);
    header.writeUInt16LE(extra.length, 28);
    return Buffer.concat([header, entry.name, extra]);
  }

  private centralRecord(entry: Written): Buffer {
    const zip64 = entry.zip64 || entry.offset >= U32_MAX;
    const extras = [timestampExtra(entry.mtimeMs)];
    if (zip64)
      extras.unshift(
        extraField(
          EXTRA_ZIP64,
          Buffer.concat([u64(entry.size), u64(entry.compressedSize), u64(entry.offset)]),
        ),
      );
    const extra = Buffer.concat(extras);
    const record = Buffer.alloc(CENTRAL_HEADER_SIZE);
    record.writeUInt32LE(SIG_CENTRAL, 0);
    record.writeUInt16LE((MADE_BY_UNIX << 8) | VERSION_ZIP64, 4);
    record.writeUInt16LE(zip64 ? VERSION_ZIP64 : VERSION_DEFAULT, 6);
    record.writeUInt16LE(entry.flags, 8);
    record.writeUInt16LE(entry.method, 10);
    record.writeUInt16LE(entry.dos.time, 12);
    record.writeUInt16LE(entry.dos.date, 14);
    record.writeUInt32LE(entry.crc, 16);
    record.writeUInt32LE(zip64 ? U32_MAX : entry.compressedSize, 20);
    record.writeUInt32LE(zip64 ? U32_MAX : entry.size, 24);
    record.writeUInt16LE(entry.name.length, 28);
    record.writeUInt16LE(extra.length, 30);
    record.writeUInt32LE(entry.external, 38);
    record.writeUInt32LE(zip64 ? U32_MAX : entry.offset, 42);
    return Buffer.concat([record, entry.name, extra]);
  }

  private async emit(chunk: Buffer | Uint8Array): Promise<void> {
    this.offset += chunk.length;
    await this.out(
      Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length),
    );
  }
}

/** Info-ZIP extended timestamp, mtime only: whole Unix seconds, kept past 2038 as unsigned. */
function timestampExtra(mtimeMs: number): Buffer {
  const data = Buffer.alloc(5);
  data.writeUInt8(1, 0);
  data.writeUInt32LE(Math.min(Math.max(Math.floor(mtimeMs / 1000), 0), U32_MAX), 1);
  return extraField(EXTRA_TIMESTAMP, data);
}
