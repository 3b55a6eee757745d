/** ZIP record signatures, fields and flags (PKWARE APPNOTE 6.3) that the writer and reader share. */

export const SIG_LOCAL = 0x04034b50;
export const SIG_DESCRIPTOR = 0x08074b50;
export const SIG_CENTRAL = 0x02014b50;
export const SIG_ZIP64_END = 0x06064b50;
export const SIG_ZIP64_LOCATOR = 0x07064b50;
export const SIG_END = 0x06054b50;

export const LOCAL_HEADER_SIZE = 30;
export const CENTRAL_HEADER_SIZE = 46;
export const END_SIZE = 22;
export const ZIP64_END_SIZE = 56;
export const ZIP64_LOCATOR_SIZE = 20;

/** General purpose flag bits. */
export const FLAG_ENCRYPTED = 1 << 0;
/** Bit 3: CRC and sizes follow the data in a data descriptor. */
export const FLAG_DESCRIPTOR = 1 << 3;
export const FLAG_STRONG_ENCRYPTION = 1 << 6;
/** Bit 11: name and comment are UTF-8. */
export const FLAG_UTF8 = 1 << 11;
export const FLAG_MASKED_HEADER = 1 << 13;

export const METHOD_STORE = 0;
export const METHOD_DEFLATE = 8;

/** Extra field ids. */
export const EXTRA_ZIP64 = 0x0001;
/** PKWARE Unix: its variable part is a link target. */
export const EXTRA_PKWARE_UNIX = 0x000d;
/** Info-ZIP extended timestamp ("UT"): mtime in Unix seconds. */
export const EXTRA_TIMESTAMP = 0x5455;

/** Values that say "look in the ZIP64 extra field". */
export const U32_MAX = 0xffffffff;
export const U16_MAX = 0xffff;

/** "Version made by": Unix (3) in the high byte, so readers take the mode from the external attributes. */
export const MADE_BY_UNIX = 3;
export const VERSION_ZIP64 = 45;
export const VERSION_DEFAULT = 20;

/** Unix file type bits of a mode (st_mode). */
export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;

/** MS-DOS date and time (local time, 2-second precision; 1980–2107). */
export function dosDateTime(ms: number): { date: number; time: number } {
  const d = new Date(Math.max(ms, Date.UTC(1980, 0, 1)));
  const year = Math.min(Math.max(d.getFullYear(), 1980), 2107);
  return {
    date: ((year - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate(),
    time: (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1),
  };
}

export function fromDosDateTime(date: number, time: number): number {
  const year = 1980 + (date >> 9);
  const month = ((date >> 5) & 0xf) - 1;
  return new Date(year, month, date & 0x1f, time >> 11, (time >> 5) & 0x3f, (time & 0x1f) * 2).getTime();
}

/** Extra fields of a header as id → data. */
export function parseExtra(extra: Buffer): Map<number, Buffer> | string {
  const fields = new Map<number, Buffer>();
  let at = 0;
  while (at + 4 <= extra.length) {
    const id = extra.readUInt16LE(at);
    const size = extra.readUInt16LE(at + 2);
    if (at + 4 + size > extra.length) return 'an extra field runs past the end of its header';
    if (fields.has(id)) return `extra field 0x${id.toString(16).padStart(4, '0')} appears twice`;
    fields.set(id, extra.subarray(at + 4, at + 4 + size));
    at += 4 + size;
  }
  if (at !== extra.length) return 'the extra fields end with a partial field';
  return fields;
}

export function extraField(id: number, data: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16LE(id, 0);
  head.writeUInt16LE(data.length, 2);
  return Buffer.concat([head, data]);
}

export function u64(value: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(value));
  return b;
}

/** A u64 field as a number; beyond 2^53 it cannot be a real size or offset. */
export function readU64(buf: Buffer, at: number): number {
  const value = buf.readBigUInt64LE(at);
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(value);
}
