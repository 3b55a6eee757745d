import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
// The built module: the worker variant loads dist/hasher-worker.js next to it.
import { createBlake3 } from '../dist/hasher.js';

const require = createRequire(import.meta.url);
// blake3@2.1.7 as the reference: a second, independent BLAKE3 implementation.
const reference = require('blake3') as { hash(data: Uint8Array): Buffer };

describe.each(['inline', 'worker'] as const)('BLAKE3 on the %s thread', (thread) => {
  const data = Buffer.alloc(9 * 1024 * 1024 + 123);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + (i >> 9)) & 0xff;

  it('matches blake3@2.1.7 over chunks, and peek() does not disturb the running hash', async () => {
    const hasher = await createBlake3(thread, data.length);
    const cut = 5 * 1024 * 1024;
    for (let at = 0; at < cut; at += 256 * 1024)
      await hasher.update(data.subarray(at, Math.min(at + 256 * 1024, cut)));
    expect(await hasher.peek()).toBe(reference.hash(data.subarray(0, cut)).toString('hex'));
    for (let at = cut; at < data.length; at += 256 * 1024)
      await hasher.update(data.subarray(at, Math.min(at + 256 * 1024, data.length)));
    expect(await hasher.digest()).toBe(reference.hash(data).toString('hex'));
  });
});
