/** Source files for the transfer benchmarks and the check of what arrived. */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createRequire } from 'node:module';

const MIB = 1024 * 1024;

// The file plugin's hash library: a second BLAKE3 next to the one the agents verify with.
const require = createRequire(new URL('../../plugins/file-transfer/package.json', import.meta.url));
const { createBLAKE3 } = require('hash-wasm') as {
  createBLAKE3(): Promise<{
    init(): unknown;
    update(data: Uint8Array): unknown;
    digest(encoding: 'hex'): string;
  }>;
};

export async function blake3(path: string): Promise<string> {
  const hasher = await createBLAKE3();
  hasher.init();
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * MIB }))
    hasher.update(chunk as Buffer);
  return hasher.digest('hex');
}

/** `bytes` of random data (incompressible, so no layer can shortcut it). */
export async function randomFile(path: string, bytes: number): Promise<void> {
  const handle = await open(path, 'w');
  try {
    for (let done = 0; done < bytes; done += 16 * MIB)
      await handle.write(randomBytes(Math.min(16 * MIB, bytes - done)));
  } finally {
    await handle.close();
  }
}
