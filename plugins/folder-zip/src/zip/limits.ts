/** How much a received archive may unpack to; from the receiver's config (`plugins.folder-zip`). */
export interface ZipLimits {
  /** Entries (files and directories). */
  maxEntries: number;
  /** Uncompressed bytes of all entries together. */
  maxTotalBytes: number;
  /** Uncompressed ÷ compressed bytes of one deflated entry, checked once it passed RATIO_GRACE_BYTES. */
  maxCompressionRatio: number;
  /** UTF-8 bytes of an entry's path. */
  maxPathBytes: number;
}

export const DEFAULT_LIMITS: ZipLimits = {
  maxEntries: 200_000,
  maxTotalBytes: 64 * 1024 ** 3,
  maxCompressionRatio: 500,
  maxPathBytes: 4096,
};

/** Small entries may compress very well (a run of spaces); the ratio only matters past this. */
export const RATIO_GRACE_BYTES = 1024 * 1024;

export type ZipErrorCode =
  /** The stream ended inside the archive. */
  | 'TRUNCATED'
  /** Not a ZIP this reader accepts (bad signature, unsupported method, inconsistent records). */
  | 'BAD_ZIP'
  /** An entry's data disagrees with its CRC-32 or its sizes. */
  | 'CORRUPT'
  /** A limit of ZipLimits (or the sender's own announcement) was exceeded. */
  | 'LIMIT'
  /** An entry that must not be extracted: unsafe name, link, special file, duplicate. */
  | 'UNSAFE_ENTRY'
  /** The producer broke the stream's own rules (withdrew an entry other than the one being read). */
  | 'PROTOCOL';

/** Why an archive was refused; `code` sorts it, the message names the entry. */
export class ZipError extends Error {
  override name = 'ZipError';
  constructor(
    readonly code: ZipErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Counts entries and bytes against the limits as they stream past. */
export class LimitTracker {
  entries = 0;
  totalBytes = 0;

  constructor(readonly limits: ZipLimits) {}

  addEntry(name: string): void {
    this.entries++;
    if (this.entries > this.limits.maxEntries)
      throw new ZipError(
        'LIMIT',
        `entry ${JSON.stringify(name)} is entry number ${this.entries}; at most ${this.limits.maxEntries} are accepted`,
      );
  }

  addBytes(bytes: number, name: string): void {
    this.totalBytes += bytes;
    if (this.totalBytes > this.limits.maxTotalBytes)
      throw new ZipError(
        'LIMIT',
        `the archive unpacks to more than ${this.limits.maxTotalBytes} bytes (limit reached in ${JSON.stringify(name)})`,
      );
  }

  checkRatio(uncompressed: number, compressed: number, name: string): void {
    if (uncompressed <= RATIO_GRACE_BYTES) return;
    const ratio = uncompressed / Math.max(compressed, 1);
    if (ratio > this.limits.maxCompressionRatio)
      throw new ZipError(
        'LIMIT',
        `entry ${JSON.stringify(name)} expands more than ${this.limits.maxCompressionRatio}:1 (${uncompressed} bytes from ${compressed}): refused as a decompression bomb`,
      );
  }
}
