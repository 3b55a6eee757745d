import { createCRC32 } from '@mesh-agent/plugin-file-transfer';

type WasmHasher = Awaited<ReturnType<typeof createCRC32>>;

/**
 * Incremental CRC-32 (IEEE, as ZIP uses it). Backed by hash-wasm, which file-transfer already
 * ships: ~1.6 GB/s here against ~0.3 GB/s for a table-driven loop in JS (measured on this machine).
 */
export class Crc32 {
  private constructor(private readonly hasher: WasmHasher) {
    hasher.init();
  }

  static async create(): Promise<Crc32> {
    return new Crc32(await createCRC32());
  }

  update(data: Uint8Array): void {
    this.hasher.update(data);
  }

  /** The CRC of everything since the last reset; the state starts over afterwards. */
  take(): number {
    const value = Number.parseInt(this.hasher.digest('hex'), 16);
    this.hasher.init();
    return value;
  }
}

/** The CRC-32 of one buffer. */
export async function crc32Of(data: Uint8Array): Promise<number> {
  const crc = await Crc32.create();
  crc.update(data);
  return crc.take();
}
