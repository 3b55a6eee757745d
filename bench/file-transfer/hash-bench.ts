/**
 * The BLAKE3 implementations the plugin could use, fed 1 MiB chunks like a transfer:
 * @napi-rs/blake-hash (native, the one in use), hash-wasm and blake3@2.1.7 (both WASM).
 * Run: npx tsx bench/file-transfer/hash-bench.ts [--mib 512]
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../../plugins/file-transfer/package.json', import.meta.url));
interface Hasher {
  update(data: Uint8Array): unknown;
  digest(encoding: 'hex'): string;
}
interface WasmHasher extends Hasher {
  init(): unknown;
}
// Resolved from the plugin package, which depends on all three implementations.
const native = require('@napi-rs/blake-hash') as { Blake3Hasher: new () => Hasher };
const blake3 = require('blake3') as { createHash(): Hasher };
const { createBLAKE3 } = require('hash-wasm') as { createBLAKE3(): Promise<WasmHasher> };

const mibArg = process.argv.indexOf('--mib');
const MIB = mibArg > 0 ? Number(process.argv[mibArg + 1]) : 512;
const CHUNK = 1024 * 1024;
const chunk = randomBytes(CHUNK);
const rounds = (MIB * 1024 * 1024) / CHUNK;

async function measure(name: string, run: () => Promise<string> | string): Promise<void> {
  const start = process.hrtime.bigint();
  const digest = await run();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`${name.padEnd(26)} ${(MIB / seconds).toFixed(0).padStart(6)} MiB/s  ${digest.slice(0, 16)}`);
}

for (let pass = 0; pass < 2; pass++) {
  await measure('@napi-rs/blake-hash', () => {
    const h = new native.Blake3Hasher();
    for (let i = 0; i < rounds; i++) h.update(chunk);
    return h.digest('hex');
  });
  await measure('hash-wasm createBLAKE3', async () => {
    const h = await createBLAKE3();
    h.init();
    for (let i = 0; i < rounds; i++) h.update(chunk);
    return h.digest('hex');
  });
  await measure('blake3@2.1.7 (wasm)', () => {
    const h = blake3.createHash();
    for (let i = 0; i < rounds; i++) h.update(chunk);
    return h.digest('hex');
  });
}
